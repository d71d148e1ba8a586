"""File-writing for ophyd v1 devices that are not areaDetectors.

ophyd's own filestore mixins need areaDetector PVs (NDFile plugins, ``make_data_key``).
:class:`FileStoreMixin` gives the same path semantics and the same standard specs to
any ophyd device that produces frames in Python: stage opens a
:mod:`~bluesky_timelapse.storage` writer and emits a Resource built with
:func:`event_model.compose_resource`; each stored frame emits a Datum; unstage
closes the writer.
"""

from __future__ import annotations

import uuid
import weakref
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
from event_model import compose_resource
from ophyd import Signal

from ..storage import (
    FrameFormat,
    FrameWriter,
    ProcessWriter,
    QueuedWriter,
    WriterFactory,
    WriterProcess,
    writer_factory,
)
from ._paths import PathSemantics, PathTemplates, ResolvedPaths

EXTERNAL = "FILESTORE:"
"""The ``external`` marker of data keys whose values are datum ids."""


class FrameSignal(Signal):
    """Holds the datum id of the latest frame; describes the frame, not the id.

    Its parent must be a :class:`FileStoreMixin` device; the shape and dtype come
    from the parent's :attr:`FileStoreMixin.frame_format`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("value", "")
        super().__init__(*args, **kwargs)

    def describe(self) -> dict[str, dict[str, Any]]:
        """Data key of an external array of the parent's frame format."""
        frame_format: FrameFormat = self.parent.frame_format
        return {
            self.name: {
                "source": f"{EXTERNAL}{self.parent.name}",
                "dtype": "array",
                "shape": list(frame_format.shape),
                "dtype_numpy": frame_format.dtype.str,
                "external": EXTERNAL,
            }
        }


class FileStoreMixin:
    """Cooperative mixin writing a device's frames to files, with Resource/Datum.

    Put it before ``ophyd.Device`` in the bases. The device provides
    :attr:`frame_format` (the frames it will produce, known before acquiring, for
    the descriptor), a :class:`FrameSignal` component, and calls
    :meth:`store_frame` for each frame it acquires.

    Parameters
    ----------
    write_path_template
        strftime template of the directory to write into, relative to ``root`` or
        absolute below it; resolved at every stage.
    root
        Absolute non-semantic head of the path, recorded apart in the Resource.
    read_path_template
        The same directory as readers see it, if not where the writer sees it.
    path_semantics
        ``"posix"`` or ``"windows"``, how readers spell paths.
    writer
        A writer name from the ``bluesky_timelapse.writers`` entry points
        (``"tiff"``, ``"hdf5"``, ``"zarr"``, ``"npy"``) or a writer factory; None
        for a device that writes no files itself (it may still queue documents of
        its own): stage then opens nothing and :meth:`store_frame` refuses.
    writer_options
        Keyword arguments for the writer factory (e.g. ``{"fsync": False}``).
    write_queue
        Frames allowed to wait for the disk. 0 (default): :meth:`store_frame`
        returns once the frame is written (and synced), so every reading names a
        frame already on disk. N > 0: frames are written behind, on a thread, as an
        areaDetector file plugin does (:class:`~bluesky_timelapse.storage.QueuedWriter`);
        acquisition overlaps the writes, a failed write fails the next frame and
        unstage (which plans such as ``count`` call after the run's stop), and a
        crash can lose up to N frames that readings already name.
    write_process
        With ``write_queue`` > 0: drain the queue in a process of its own
        (:class:`~bluesky_timelapse.storage.ProcessWriter`) instead of a thread, so
        the writer's Python does not take turns with the RunEngine's for the
        interpreter lock (it pays for TIFF, whose tags tifffile builds in Python).
        The process is started at the first stage and kept for the next ones;
        ``writer`` must be a name.

    Raises
    ------
    ValueError
        For an unknown writer name, invalid path templates, a ``write_queue``
        that is not an integer >= 0, or ``write_process`` without a write queue or
        a writer name, at construction.
    """

    name: str
    frame_format: FrameFormat

    def __init__(
        self,
        *args: Any,
        write_path_template: str,
        root: str = "/",
        read_path_template: str | None = None,
        path_semantics: PathSemantics = "posix",
        writer: str | WriterFactory | None = "tiff",
        writer_options: dict[str, Any] | None = None,
        write_queue: int = 0,
        write_process: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(write_queue, int) or isinstance(write_queue, bool) or write_queue < 0:
            raise ValueError(f"write_queue {write_queue!r} is invalid; allowed: an integer >= 0")
        if write_process and (write_queue < 1 or not isinstance(writer, str)):
            raise ValueError(
                f"write_process=True needs write_queue >= 1 and a writer name (got "
                f"write_queue={write_queue!r}, writer={writer!r})"
            )
        self.write_queue = write_queue
        self._writer_process: WriterProcess | None = None
        if write_process:
            self._writer_process = WriterProcess()
            weakref.finalize(self, self._writer_process.stop)
        self.path_templates = PathTemplates(
            write_path_template=write_path_template,
            root=root,
            read_path_template=read_path_template,
            path_semantics=path_semantics,
        )
        self._writer_label = writer if isinstance(writer, str) else _factory_name(writer)
        self._writer_factory: WriterFactory | None = (
            writer_factory(writer) if isinstance(writer, str) else writer
        )
        self._writer_options = dict(writer_options or {})
        self._writer: FrameWriter | None = None
        self._compose_datum: Any = None
        self._asset_docs_cache: deque[tuple[str, dict[str, Any]]] = deque()
        super().__init__(*args, **kwargs)

    @property
    def writer(self) -> FrameWriter | None:
        """The open writer while staged, else None."""
        return self._writer

    def stage(self) -> list[Any]:
        """Open a new writer and queue its Resource, then stage the device.

        Everything that can fail (path templates, directory creation, writability,
        an existing output) fails before the Resource is made.
        """
        if self._writer_factory is None:
            nothing: list[Any] = super().stage()  # type: ignore[misc]
            return nothing
        paths = self.path_templates.resolve(datetime.now())
        writer = self._open_writer(paths, self._writer_factory)
        try:
            staged: list[Any] = super().stage()  # type: ignore[misc]
        except BaseException:
            writer.close()
            raise
        description = writer.describe()
        bundle = compose_resource(
            spec=description.spec,
            root=paths.root,
            resource_path=paths.resource_path(description.relative_path),
            resource_kwargs=description.resource_kwargs,
            path_semantics=paths.path_semantics,
        )
        self._writer, self._compose_datum = writer, bundle.compose_datum
        self._asset_docs_cache.append(("resource", dict(bundle.resource_doc)))
        return staged

    def unstage(self) -> list[Any]:
        """Close the writer (writing any queued frame), then unstage the device.

        Raises
        ------
        RuntimeError
            If a queued frame failed to write (``write_queue`` > 0); the device is
            unstaged all the same.
        """
        writer, self._writer, self._compose_datum = self._writer, None, None
        self._asset_docs_cache.clear()
        try:
            if writer is not None:
                writer.close()
        finally:
            unstaged: list[Any] = super().unstage()  # type: ignore[misc]
        return unstaged

    def store_frame(self, frame: np.ndarray) -> str:
        """Write ``frame`` and queue its Datum; return the datum id.

        Raises
        ------
        RuntimeError
            If the device is not staged.
        ValueError
            If ``frame`` does not match :attr:`frame_format`; nothing is written.
        """
        if self._writer_factory is None:
            raise RuntimeError(f"{self.name} has no writer (writer=None); it stores no frames")
        if self._writer is None:
            raise RuntimeError(f"{self.name} is not staged; stage it before storing frames")
        self.frame_format.check(frame)
        index = self._writer.append(frame)
        datum = self._compose_datum(datum_kwargs=self._writer.datum_kwargs(index))
        self._asset_docs_cache.append(("datum", dict(datum)))
        return str(datum["datum_id"])

    def collect_asset_docs(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield the queued Resource and Datum documents, once each."""
        while self._asset_docs_cache:
            yield self._asset_docs_cache.popleft()

    def _open_writer(self, paths: ResolvedPaths, factory: WriterFactory) -> FrameWriter:
        directory = paths.write_directory
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise PermissionError(
                f"cannot create the directory {str(directory)!r} for {self.name}'s frames: "
                f"{err.strerror}"
            ) from err
        writer: FrameWriter
        if self._writer_process is not None:
            writer = ProcessWriter(
                self._writer_label,
                self._writer_options,
                max_pending=self.write_queue,
                process=self._writer_process,
            )
        elif self.write_queue:
            writer = QueuedWriter(factory(**self._writer_options), self.write_queue)
        else:
            writer = factory(**self._writer_options)
        stem = f"{self.name}_{datetime.now():%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:8]}"
        writer.open(directory, stem)
        return writer


def _factory_name(factory: WriterFactory | None) -> str:
    return "none" if factory is None else getattr(factory, "__name__", type(factory).__name__)
