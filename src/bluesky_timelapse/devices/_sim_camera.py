"""A camera that needs no hardware: a synthetic garden, written through our writers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Kind, Signal
from ophyd.signal import SignalRO
from ophyd.status import DeviceStatus

from .._checks import check_seconds
from ..sources import SceneSource
from ..storage import ProcessWriter, QueuedWriter, WriterFactory
from ._filestore import FileStoreMixin, FrameSignal
from ._paths import PathSemantics


class ExposureSignal(Signal):
    """Exposure time in seconds; refuses anything but a finite number >= 0."""

    def check_value(self, value: Any) -> None:
        """Raise ``ValueError`` for a negative, non-finite or non-numeric exposure."""
        super().check_value(value)
        check_seconds("exposure", value, zero_allowed=True)


class SimCamera(FileStoreMixin, Device):
    """A simulated camera with a scene that changes over time.

    Each trigger waits ``exposure`` seconds on a worker thread (the RunEngine's loop
    is never blocked), renders the scene at the current scene time, writes the
    frame with the chosen writer, and completes its Status. The scene time is
    ``time.time() * time_scale``: with ``time_scale=1`` the sun follows the UTC day;
    ``time_scale=3600`` makes each real second an hour of the garden's life.

    Parameters
    ----------
    name
        Device name; data keys are ``{name}_image`` and ``{name}_scene_time``.
    write_path_template, root, read_path_template, path_semantics, writer, writer_options, write_queue, write_process
        Where and how frames are written; see
        :class:`~bluesky_timelapse.devices.FileStoreMixin`.
    shape, dtype, colour, time_scale
        The frames and the scene's clock; see
        :class:`~bluesky_timelapse.sources.SceneSource`.
    exposure
        Seconds each trigger takes, >= 0.
    **kwargs
        Passed to :class:`ophyd.Device`.

    Examples
    --------
    >>> camera = SimCamera(name="camera", root="/tmp", write_path_template="/tmp/%Y/%m/%d")
    >>> RE(count([camera], num=5))  # doctest: +SKIP
    """

    image = Cpt(FrameSignal, kind=Kind.normal)
    scene_time = Cpt(Signal, value=0.0, kind=Kind.normal)
    exposure = Cpt(ExposureSignal, value=0.0, kind=Kind.config)
    frame_shape = Cpt(SignalRO, value=[], kind=Kind.config)
    frame_dtype = Cpt(SignalRO, value="", kind=Kind.config)
    writer_name = Cpt(SignalRO, value="", kind=Kind.config)
    time_scale = Cpt(SignalRO, value=1.0, kind=Kind.config)

    def __init__(
        self,
        *,
        name: str,
        write_path_template: str,
        root: str = "/",
        read_path_template: str | None = None,
        path_semantics: PathSemantics = "posix",
        writer: str | WriterFactory = "tiff",
        writer_options: dict[str, Any] | None = None,
        write_queue: int = 0,
        write_process: bool = False,
        shape: Sequence[int] = (480, 640),
        dtype: str | np.dtype[Any] = "uint16",
        colour: bool = False,
        exposure: float = 0.0,
        time_scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        ExposureSignal(name="exposure").check_value(exposure)
        self.frame_source = SceneSource(shape, dtype, colour, time_scale, name=name)
        self.frame_format = self.frame_source.frame_format
        self.scene = self.frame_source.scene
        super().__init__(
            name=name,
            write_path_template=write_path_template,
            root=root,
            read_path_template=read_path_template,
            path_semantics=path_semantics,
            writer=writer,
            writer_options=writer_options,
            write_queue=write_queue,
            write_process=write_process,
            **kwargs,
        )
        self.exposure.put(float(exposure))
        for signal, value in (
            (self.frame_shape, list(self.frame_format.shape)),
            (self.frame_dtype, self.frame_format.dtype.name),
            (self.writer_name, self._writer_label),
            (self.time_scale, self.frame_source.time_scale),
        ):
            signal._readback = value  # SignalRO refuses put(); fixed once, here
        self._acquisition = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-acquire")

    def trigger(self) -> DeviceStatus:
        """Expose, render and store one frame on the worker thread.

        With no exposure and a write queue with room (``write_queue`` > 0), nothing
        is left to wait for: the frame is rendered (well under a millisecond) and
        queued at once, and the Status returned finished, sparing the hand-over to
        the worker thread and back.
        """
        status = DeviceStatus(self)
        exposure = self.exposure.get()
        opened = time.time()
        writer = self.writer
        if not exposure and isinstance(writer, QueuedWriter | ProcessWriter) and writer.has_room:
            self._acquire(status, opened, exposure)
        else:
            self._acquisition.submit(self._acquire, status, opened, exposure)
        return status

    def _acquire(self, status: DeviceStatus, opened: float, exposure: float) -> None:
        try:
            datum_id = self.store_frame(self.frame_source.grab(exposure, opened=opened))
            self.scene_time.put(self.frame_source.scene_time(opened))
            self.image.put(datum_id)
        except Exception as err:
            status.set_exception(err)
        else:
            status.set_finished()
