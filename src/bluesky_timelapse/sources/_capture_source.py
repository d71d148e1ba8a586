"""Frames read through OpenCV (``cv2.VideoCapture``): a USB camera, a stream or a video file.

Checking the settings, opening and configuring the capture on one worker thread,
reading frames as RGB or grayscale, and clear errors. OpenCV is optional
(``pip install "bluesky-timelapse[opencv]"``): this module imports without it, and
:class:`CaptureSource` says how to install it.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np

from ..storage import FrameFormat

INSTALL_HINT = 'pip install "bluesky-timelapse[opencv]"'
"""How to install the optional OpenCV dependency."""

_T = TypeVar("_T")

SETTINGS: dict[str, str] = {"exposure": "CAP_PROP_EXPOSURE", "gain": "CAP_PROP_GAIN"}
"""The capture settings the cameras name, and the OpenCV property of each."""


class CaptureError(RuntimeError):
    """A capture that cannot be opened, refuses a setting, or gives no frame."""


def import_cv2(needed_by: str) -> Any:
    """Return the ``cv2`` module, or raise ``ImportError`` saying how to install it.

    Parameters
    ----------
    needed_by
        What needs OpenCV, for the message (e.g. ``"OpenCVCamera"``).
    """
    try:
        import cv2
    except ImportError as err:
        raise ImportError(
            f"{needed_by} needs OpenCV, which is not installed: {INSTALL_HINT}"
        ) from err
    return cv2


def describe_source(source: int | str) -> str:
    """Name ``source`` for messages, without the password of a URL."""
    if isinstance(source, int):
        return f"camera index {source}"
    parts = urlsplit(source)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        source = parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
    return repr(source)


def check_number(name: str, value: Any) -> float:
    """Return ``value`` as a float; raise ``ValueError`` naming ``name`` unless finite."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} {value!r} is invalid; allowed: a finite number")
    return float(value)


class CaptureSource:
    """Frames of a ``cv2.VideoCapture`` of a device index, URL or video file, on its own thread.

    A :class:`FrameSource`: :meth:`open` opens and configures the capture (which
    tells the frame format), :meth:`grab` reads the next frame, :meth:`close`
    releases the capture; the cameras open it at stage. Every call into OpenCV
    (open, set, get, read, release) runs on one worker thread, as some capture
    backends require; the methods may be called from any thread, that one
    included, and block until done.

    Parameters
    ----------
    source
        A camera index (``0`` for the first USB camera), a stream URL
        (``"rtsp://..."``, ``"http://..."``) or a video file path.
    name
        Who reads the capture, for messages and the thread's name.
    colour
        RGB frames ``(y, x, 3)`` if True (default), grayscale ``(y, x)`` if False.
    resolution
        Frame size ``(width, height)`` to ask the backend for at every open; None
        (default) keeps the backend's.
    exposure
        ``CAP_PROP_EXPOSURE`` to set at every open, in the backend's units; None
        (default) keeps the backend's.
    gain
        ``CAP_PROP_GAIN`` to set at every open; None (default) keeps the backend's.
    properties
        Other capture properties to set at every open, before the others, by name,
        e.g. ``{"CAP_PROP_AUTO_EXPOSURE": 1}``.
    backend
        The OpenCV capture backend to use, e.g. ``"V4L2"``, ``"FFMPEG"``,
        ``"GSTREAMER"``, ``"DSHOW"``, ``"MSMF"``; None (default) lets OpenCV choose.
    needed_by
        What needs OpenCV, for the ``ImportError`` when it is not installed.
    logger
        Where a setting the backend reports differently from the value asked for
        is logged as a warning; None (default) is this module's logger.

    Raises
    ------
    ImportError
        If OpenCV is not installed.
    ValueError
        For a setting that is not a finite number, a ``resolution`` that is not two
        integers >= 1, or an unknown property or backend name.
    """

    def __init__(
        self,
        source: int | str | os.PathLike[str],
        *,
        name: str,
        colour: bool = True,
        resolution: tuple[int, int] | None = None,
        exposure: float | None = None,
        gain: float | None = None,
        properties: Mapping[str, float] | None = None,
        backend: str | None = None,
        needed_by: str = "CaptureSource",
        logger: logging.Logger | None = None,
    ) -> None:
        self.settings: dict[str, float | None] = {
            SETTINGS[label]: (
                None
                if value is None
                else self.check_setting(f"{label} ({SETTINGS[label]})", value)
            )
            for label, value in (("exposure", exposure), ("gain", gain))
        }
        """``CAP_PROP_...`` -> the value set at every open; None only reads the backend's."""
        self.reported: dict[str, float] = {}
        """What the backend reported for each of ``settings`` at the last open."""
        cv2 = import_cv2(needed_by)
        self._cv2 = cv2
        self.source: int | str = source if isinstance(source, int) else os.fspath(source)
        self.name = name
        self.colour = bool(colour)
        self._api_preference = _api_preference(cv2, backend)
        self._properties = _check_properties(cv2, properties or {})
        self._resolution = _check_resolution(resolution)
        self._logger = logger or logging.getLogger("bluesky_timelapse.sources")
        self.capture: Any = None
        """The open ``cv2.VideoCapture``, else None."""
        self._frame_format: FrameFormat | None = None
        self.backend_name = ""
        """The backend OpenCV opened the capture with, once opened."""
        self.frames_read = 0
        """Frames read since the capture was opened."""
        self._worker: int | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"{name}-capture", initializer=self._on_worker
        )

    @staticmethod
    def check_setting(name: str, value: object) -> float:
        """Return ``value`` as a float; raise ``ValueError`` naming ``name`` unless finite.

        Parameters
        ----------
        name
            The setting, for the message, e.g. ``"exposure (CAP_PROP_EXPOSURE)"``.
        value
            What was asked for.
        """
        return check_number(name, value)

    @property
    def frame_format(self) -> FrameFormat:
        """The frames' format, known once opened (from the backend's frame size).

        Raises
        ------
        RuntimeError
            If the capture has never been opened.
        """
        if self._frame_format is None:
            raise RuntimeError(
                f"{self.name}'s frame format is known once staged: the capture of "
                f"{describe_source(self.source)} is opened at stage"
            )
        return self._frame_format

    def submit(self, function: Callable[..., _T], *args: Any) -> Future[_T]:
        """Run ``function(*args)`` on the capture's thread, without waiting for it."""
        return self._executor.submit(function, *args)

    def open(self) -> None:
        """Open the capture and configure it; :attr:`reported` holds what the backend reports.

        The properties are applied first, then the resolution, then the
        :attr:`settings`.

        Raises
        ------
        CaptureError
            If the source cannot be opened, refuses a setting or reports no frame
            size; the capture is released.
        """
        self.reported = self._call(self._open, dict(self.settings))

    def set(self, property_name: str, value: float) -> float:
        """Set a property of the open capture; return what the backend reports.

        A value the backend accepts but reports differently (rounded, clamped) is
        logged as a warning naming the property.

        Raises
        ------
        CaptureError
            If the backend refuses the value.
        RuntimeError
            If the capture is not open.
        """
        return self._call(self._set, property_name, value)

    def apply(self, property_name: str, value: float) -> float | None:
        """Ask for ``value`` of a setting at every open; set it now if the capture is open.

        Returns what the backend reports, or None while the capture is closed.

        Raises
        ------
        CaptureError
            If the backend refuses the value; the request is left as it was.
        """
        reported = None if self.capture is None else self.set(property_name, value)
        self.settings[property_name] = value
        return reported

    def grab(self, exposure: float) -> np.ndarray:
        """Read the next frame, converted from OpenCV's BGR to RGB or grayscale.

        ``exposure`` is not used: a capture delivers frames at its own pace,
        exposed as its backend's ``CAP_PROP_EXPOSURE`` says.

        Raises
        ------
        CaptureError
            If no frame can be read (at the end of a video file: an error saying
            the file has no more frames).
        RuntimeError
            If the capture is not open.
        """
        return self._call(self._read)

    def close(self) -> None:
        """Release the capture, if it is open."""
        self._call(self._release)

    def shutdown(self) -> None:
        """Release the capture and stop the worker thread."""
        self.close()
        self._executor.shutdown()

    # -- on the capture thread ---------------------------------------------------

    def _on_worker(self) -> None:
        self._worker = threading.get_ident()

    def _call(self, function: Callable[..., _T], *args: Any) -> _T:
        if threading.get_ident() == self._worker:
            return function(*args)
        return self.submit(function, *args).result()

    def _open(self, settings: Mapping[str, float | None]) -> dict[str, float]:
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
                f"{self.name} cannot open {describe_source(self.source)}{via}: no such "
                "camera, an unreachable stream, or a missing or unreadable video file"
            )
        self.capture, self.frames_read = capture, 0
        try:
            return self._configure(settings)
        except BaseException:
            self._release()
            raise

    def _configure(self, settings: Mapping[str, float | None]) -> dict[str, float]:
        cv2, capture = self._cv2, self.capture
        for property_name, value in self._properties.items():
            self._set(property_name, value)
        if self._resolution is not None:
            width, height = self._resolution
            self._set("CAP_PROP_FRAME_WIDTH", width)
            self._set("CAP_PROP_FRAME_HEIGHT", height)
        reported = {
            property_name: (
                float(capture.get(getattr(cv2, property_name)))
                if value is None
                else self._set(property_name, value)
            )
            for property_name, value in settings.items()
        }
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width < 1 or height < 1:
            raise CaptureError(
                f"{describe_source(self.source)} reports no frame size "
                f"(CAP_PROP_FRAME_WIDTH {width}, CAP_PROP_FRAME_HEIGHT {height}); "
                f"{self.name} needs it before the first frame, for the descriptor"
            )
        shape = (height, width, 3) if self.colour else (height, width)
        self._frame_format = FrameFormat(shape, np.dtype("uint8"))
        self.backend_name = capture.getBackendName()
        return reported

    def _set(self, property_name: str, value: float) -> float:
        capture = self.capture
        if capture is None:
            raise RuntimeError(f"{self.name}'s capture is not open: {property_name} is not set")
        prop = getattr(self._cv2, property_name)
        accepted = capture.set(prop, value)
        reported = float(capture.get(prop))
        if not accepted:
            raise CaptureError(
                f"{describe_source(self.source)} ({capture.getBackendName()} backend) refused "
                f"{property_name} = {value!r}; it reports {reported!r}"
            )
        if not math.isclose(reported, value, rel_tol=1e-6):
            self._logger.warning(
                "%s: %s set to %r, but %s reports %r",
                self.name,
                property_name,
                value,
                describe_source(self.source),
                reported,
            )
        return reported

    def _read(self) -> np.ndarray:
        if self.capture is None:
            raise RuntimeError(f"{self.name} is not staged; stage it before triggering")
        ok, frame = self.capture.read()
        if not ok:
            source = describe_source(self.source)
            if isinstance(self.source, str) and Path(self.source).is_file():
                raise CaptureError(
                    f"the video file {source} has no more frames: {self.name} has read "
                    f"all {self.frames_read} of them"
                )
            raise CaptureError(
                f"reading a frame from {source} failed after {self.frames_read} frames: "
                "the camera may be disconnected or the stream may have ended"
            )
        self.frames_read += 1
        conversion = self._cv2.COLOR_BGR2RGB if self.colour else self._cv2.COLOR_BGR2GRAY
        return np.asarray(self._cv2.cvtColor(frame, conversion))

    def _release(self) -> None:
        capture, self.capture = self.capture, None
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
        checked[property_name] = check_number(property_name, value)
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
