"""A camera read through OpenCV: a USB camera, a network stream or a video file.

OpenCV is optional (``pip install "bluesky-timelapse[opencv]"``): this module imports
without it, and :class:`OpenCVCamera` says how to install it when constructed.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Kind, Signal
from ophyd.signal import SignalRO
from ophyd.status import DeviceStatus
from ophyd.utils import RedundantStaging

from ..storage import FrameFormat, WriterFactory
from .filestore import FileStoreMixin, FrameSignal
from .paths import PathSemantics

logger = logging.getLogger(__name__)

_INSTALL_HINT = 'pip install "bluesky-timelapse[opencv]"'

_T = TypeVar("_T")


class CaptureError(RuntimeError):
    """A capture that cannot be opened, refuses a setting, or gives no frame."""


def _import_cv2() -> Any:
    """Return the ``cv2`` module, or raise ``ImportError`` saying how to install it."""
    try:
        import cv2
    except ImportError as err:
        raise ImportError(
            f"OpenCVCamera needs OpenCV, which is not installed: {_INSTALL_HINT}"
        ) from err
    return cv2


def _describe_source(source: int | str) -> str:
    """Name ``source`` for messages, without the password of a URL."""
    if isinstance(source, int):
        return f"camera index {source}"
    parts = urlsplit(source)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        source = parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
    return repr(source)


def _check_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} {value!r} is invalid; allowed: a finite number")
    return float(value)


class CaptureSetting(Signal):
    """A capture property (``CAP_PROP_...``), set with ``cap.set``, read back with ``cap.get``.

    While the parent camera's capture is open, a put applies the value on the
    camera's worker thread and the signal then holds what the backend reports; a
    refused value raises :class:`CaptureError` and leaves the signal unchanged.
    While the capture is closed, a put records a request applied at the next stage.

    Parameters
    ----------
    property_name
        The OpenCV property, e.g. ``"CAP_PROP_EXPOSURE"``.
    *args, **kwargs
        Passed to :class:`ophyd.Signal`.
    """

    def __init__(self, *args: Any, property_name: str, **kwargs: Any) -> None:
        kwargs.setdefault("value", None)
        super().__init__(*args, **kwargs)
        self.property_name = property_name
        self.requested: float | None = None
        """The value asked for, applied at every stage; None leaves the backend's own."""

    def check_value(self, value: Any) -> None:
        """Raise ``ValueError`` unless ``value`` is a finite number."""
        super().check_value(value)
        _check_number(f"{self.attr_name} ({self.property_name})", value)

    def put(self, value: Any, **kwargs: Any) -> None:
        """Apply ``value`` to the open capture (or request it for the next stage)."""
        self.check_value(value)
        camera: OpenCVCamera = self.parent
        reported = camera.apply_property(self.property_name, float(value))
        self.requested = float(value)
        super().put(float(value) if reported is None else reported, **kwargs)

    def report(self, value: float) -> None:
        """Hold ``value``, what the backend reports, without applying anything."""
        super().put(value)

    def describe(self) -> dict[str, dict[str, Any]]:
        """A number in the backend's units, also before the capture was ever opened."""
        return {
            self.name: {
                "source": f"OPENCV:{self.property_name}",
                "dtype": "number",
                "shape": [],
                "dtype_numpy": np.dtype("float64").str,
            }
        }


class OpenCVCamera(FileStoreMixin, Device):
    """A camera read with ``cv2.VideoCapture``: a device index, a URL or a video file.

    Stage opens the capture, applies the requested settings, reads the frame size
    the backend reports, then opens the writer (see
    :class:`~bluesky_timelapse.devices.FileStoreMixin`). Each trigger reads one frame
    on the camera's worker thread (the RunEngine's loop is never blocked), converts
    it from OpenCV's BGR to RGB or grayscale, writes it, and completes its Status.
    Unstage closes the writer and releases the capture. Every call into OpenCV
    happens on that one worker thread, as some capture backends require.

    Parameters
    ----------
    name
        Device name; the data key is ``{name}_image``.
    source
        A camera index (``0`` for the first USB camera), a stream URL
        (``"rtsp://..."``, ``"http://..."``) or a video file path.
    write_path_template, root, read_path_template, path_semantics
        Where frames go; see :class:`~bluesky_timelapse.devices.FileStoreMixin`.
    writer
        ``"tiff"``, ``"hdf5"``, ``"zarr"``, ``"npy"`` (or any installed writer name),
        or a writer factory.
    writer_options
        Keyword arguments for the writer (e.g. ``{"fsync": False}``).
    write_queue
        Frames allowed to wait for the disk; 0 (default) completes each trigger
        once its frame is written. See :class:`~bluesky_timelapse.devices.FileStoreMixin`.
    colour
        RGB frames ``(y, x, 3)`` if True (default), grayscale ``(y, x)`` if False.
    resolution
        Frame size ``(width, height)`` to ask the backend for at stage; None
        (default) keeps the backend's.
    exposure
        ``CAP_PROP_EXPOSURE`` to set at stage, in the backend's units; None
        (default) keeps the backend's.
    gain
        ``CAP_PROP_GAIN`` to set at stage; None (default) keeps the backend's.
    properties
        Other capture properties to set at stage, before the others, by name, e.g.
        ``{"CAP_PROP_AUTO_EXPOSURE": 1}``.
    backend
        The OpenCV capture backend to use, e.g. ``"V4L2"``, ``"FFMPEG"``,
        ``"GSTREAMER"``, ``"DSHOW"``, ``"MSMF"``; None (default) lets OpenCV choose.
    **kwargs
        Passed to :class:`ophyd.Device`.

    Raises
    ------
    ImportError
        If OpenCV is not installed.
    ValueError
        For a setting that is not a finite number, a ``resolution`` that is not two
        integers >= 1, an unknown property or backend name, an unknown writer name
        or invalid path templates, at construction.

    Examples
    --------
    >>> camera = OpenCVCamera(name="camera", source=0, root="/data", write_path_template="%Y/%m/%d")
    >>> RE(count([camera], num=5))  # doctest: +SKIP
    """

    image = Cpt(FrameSignal, kind=Kind.normal)
    exposure = Cpt(CaptureSetting, property_name="CAP_PROP_EXPOSURE", kind=Kind.config)
    gain = Cpt(CaptureSetting, property_name="CAP_PROP_GAIN", kind=Kind.config)
    frame_shape = Cpt(SignalRO, value=[], kind=Kind.config)
    frame_dtype = Cpt(SignalRO, value="uint8", kind=Kind.config)
    writer_name = Cpt(SignalRO, value="", kind=Kind.config)
    backend_name = Cpt(SignalRO, value="", kind=Kind.config)

    def __init__(
        self,
        *,
        name: str,
        source: int | str | os.PathLike[str],
        write_path_template: str,
        root: str = "/",
        read_path_template: str | None = None,
        path_semantics: PathSemantics = "posix",
        writer: str | WriterFactory = "tiff",
        writer_options: dict[str, Any] | None = None,
        write_queue: int = 0,
        colour: bool = True,
        resolution: tuple[int, int] | None = None,
        exposure: float | None = None,
        gain: float | None = None,
        properties: Mapping[str, float] | None = None,
        backend: str | None = None,
        **kwargs: Any,
    ) -> None:
        cv2 = _import_cv2()
        self._cv2 = cv2
        self.source: int | str = source if isinstance(source, int) else os.fspath(source)
        self.colour = bool(colour)
        self._api_preference = _api_preference(cv2, backend)
        self._properties = _check_properties(cv2, properties or {})
        self._resolution = _check_resolution(resolution)
        self._capture: Any = None
        self._frame_format: FrameFormat | None = None
        self._frames_read = 0
        super().__init__(
            name=name,
            write_path_template=write_path_template,
            root=root,
            read_path_template=read_path_template,
            path_semantics=path_semantics,
            writer=writer,
            writer_options=writer_options,
            write_queue=write_queue,
            **kwargs,
        )
        self.writer_name._readback = self._writer_label  # SignalRO refuses put()
        for setting, value in ((self.exposure, exposure), (self.gain, gain)):
            if value is not None:
                setting.put(value)
        self._acquisition = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-capture")

    @property
    def frame_format(self) -> FrameFormat:  # type: ignore[override]
        """The format of the frames, known once staged (from the backend's frame size).

        Raises
        ------
        RuntimeError
            If the camera has never been staged.
        """
        if self._frame_format is None:
            raise RuntimeError(
                f"{self.name}'s frame format is known once staged: the capture of "
                f"{_describe_source(self.source)} is opened at stage"
            )
        return self._frame_format

    @property
    def capture(self) -> Any:
        """The open ``cv2.VideoCapture`` while staged, else None."""
        return self._capture

    def stage(self) -> list[Any]:
        """Open the capture and apply the settings, then open the writer and stage.

        Raises
        ------
        CaptureError
            If the source cannot be opened, refuses a setting or reports no frame
            size; nothing is written and the capture is released.
        """
        if self._capture is not None:
            raise RedundantStaging(f"{self.name} is already staged; unstage it first")
        self._on_capture_thread(self._open)
        try:
            staged: list[Any] = super().stage()
        except BaseException:
            self._on_capture_thread(self._release)
            raise
        return staged

    def unstage(self) -> list[Any]:
        """Close the writer and unstage, then release the capture."""
        try:
            unstaged: list[Any] = super().unstage()
        finally:
            self._on_capture_thread(self._release)
        return unstaged

    def destroy(self) -> None:
        """Release the capture and stop the worker thread, then destroy the device."""
        try:
            self._on_capture_thread(self._release)
            self._acquisition.shutdown()
        finally:
            super().destroy()

    def trigger(self) -> DeviceStatus:
        """Read, convert and store one frame on the worker thread.

        The Status fails with :class:`CaptureError` if no frame can be read (at the
        end of a video file: an error saying the file has no more frames).
        """
        status = DeviceStatus(self)
        self._acquisition.submit(self._acquire, status)
        return status

    def apply_property(self, property_name: str, value: float) -> float | None:
        """Set a capture property on the open capture; return what the backend reports.

        Returns None, applying nothing, while the capture is closed. A value the
        backend accepts but reports differently (rounded, clamped) is logged as a
        warning naming the property.

        Raises
        ------
        CaptureError
            If the backend refuses the value.
        """
        if self._capture is None:
            return None
        return self._on_capture_thread(self._set_property, property_name, value)

    def _on_capture_thread(self, function: Callable[..., _T], *args: Any) -> _T:
        return self._acquisition.submit(function, *args).result()

    # -- on the capture thread ---------------------------------------------------

    def _open(self) -> None:
        cv2 = self._cv2
        capture = cv2.VideoCapture(self.source, self._api_preference)
        if not capture.isOpened():
            capture.release()
            via = (
                ""
                if self._api_preference == cv2.CAP_ANY
                else f" with the {cv2.videoio_registry.getBackendName(self._api_preference)} backend"
            )
            raise CaptureError(
                f"{self.name} cannot open {_describe_source(self.source)}{via}: no such "
                "camera, an unreachable stream, or a missing or unreadable video file"
            )
        self._capture, self._frames_read = capture, 0
        try:
            self._configure()
        except BaseException:
            self._release()
            raise

    def _configure(self) -> None:
        cv2, capture = self._cv2, self._capture
        for property_name, value in self._properties.items():
            self._set_property(property_name, value)
        if self._resolution is not None:
            width, height = self._resolution
            self._set_property("CAP_PROP_FRAME_WIDTH", width)
            self._set_property("CAP_PROP_FRAME_HEIGHT", height)
        for setting in (self.exposure, self.gain):
            if setting.requested is None:
                setting.report(float(capture.get(getattr(cv2, setting.property_name))))
            else:
                setting.report(self._set_property(setting.property_name, setting.requested))
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width < 1 or height < 1:
            raise CaptureError(
                f"{_describe_source(self.source)} reports no frame size "
                f"(CAP_PROP_FRAME_WIDTH {width}, CAP_PROP_FRAME_HEIGHT {height}); "
                f"{self.name} needs it before the first frame, for the descriptor"
            )
        shape = (height, width, 3) if self.colour else (height, width)
        self._frame_format = FrameFormat(shape, np.dtype("uint8"))
        self.frame_shape._readback = list(shape)  # SignalRO refuses put()
        self.backend_name._readback = capture.getBackendName()

    def _set_property(self, property_name: str, value: float) -> float:
        capture = self._capture
        prop = getattr(self._cv2, property_name)
        accepted = capture.set(prop, value)
        reported = float(capture.get(prop))
        if not accepted:
            raise CaptureError(
                f"{_describe_source(self.source)} ({capture.getBackendName()} backend) refused "
                f"{property_name} = {value!r}; it reports {reported!r}"
            )
        if not math.isclose(reported, value, rel_tol=1e-6):
            logger.warning(
                "%s: %s set to %r, but %s reports %r",
                self.name,
                property_name,
                value,
                _describe_source(self.source),
                reported,
            )
        return reported

    def _acquire(self, status: DeviceStatus) -> None:
        try:
            frame = self._read()
            self.image.put(self.store_frame(frame))
        except Exception as err:
            status.set_exception(err)
        else:
            status.set_finished()

    def _read(self) -> np.ndarray:
        if self._capture is None:
            raise RuntimeError(f"{self.name} is not staged; stage it before triggering")
        ok, frame = self._capture.read()
        if not ok:
            source = _describe_source(self.source)
            if isinstance(self.source, str) and Path(self.source).is_file():
                raise CaptureError(
                    f"the video file {source} has no more frames: {self.name} has read "
                    f"all {self._frames_read} of them"
                )
            raise CaptureError(
                f"reading a frame from {source} failed after {self._frames_read} frames: "
                "the camera may be disconnected or the stream may have ended"
            )
        self._frames_read += 1
        conversion = self._cv2.COLOR_BGR2RGB if self.colour else self._cv2.COLOR_BGR2GRAY
        return np.asarray(self._cv2.cvtColor(frame, conversion))

    def _release(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


def _backends(cv2: Any) -> dict[str, int]:
    registry = cv2.videoio_registry
    return {registry.getBackendName(backend): backend for backend in registry.getBackends()}


def _api_preference(cv2: Any, backend: str | None) -> int:
    if backend is None:
        return int(cv2.CAP_ANY)
    backends = _backends(cv2)
    if backend not in backends:
        raise ValueError(
            f"unknown OpenCV backend {backend!r}; allowed in this OpenCV build: "
            f"{', '.join(sorted(backends))}"
        )
    return backends[backend]


def _check_properties(cv2: Any, properties: Mapping[str, float]) -> dict[str, float]:
    checked = {}
    for property_name, value in properties.items():
        if not (property_name.startswith("CAP_PROP_") and hasattr(cv2, property_name)):
            raise ValueError(
                f"unknown capture property {property_name!r}; allowed: the names of "
                "OpenCV's CAP_PROP_ constants, e.g. 'CAP_PROP_AUTO_EXPOSURE'"
            )
        checked[property_name] = _check_number(property_name, value)
    return checked


def _check_resolution(resolution: tuple[int, int] | None) -> tuple[int, int] | None:
    if resolution is None:
        return None
    valid = len(resolution) == 2 and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in resolution
    )
    if not valid:
        raise ValueError(
            f"resolution {resolution!r} is invalid; allowed: (width, height), two integers >= 1"
        )
    return (resolution[0], resolution[1])
