"""The frame writer contract, and the bookkeeping every writer shares."""

from __future__ import annotations

import abc
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import numpy as np

from .._files import fsync_directory

SUPPORTED_DTYPES: tuple[str, ...] = (
    "uint8",
    "uint16",
    "uint32",
    "int16",
    "int32",
    "float32",
    "float64",
)
"""Pixel types every writer stores and reads back unchanged."""

COLOUR_CHANNELS: tuple[int, ...] = (3, 4)
"""Sizes of the last axis accepted as colour (RGB, RGBA)."""


@dataclass(frozen=True)
class FrameFormat:
    """Shape and pixel type of the frames in one acquisition.

    Parameters
    ----------
    shape
        ``(y, x)`` for grayscale, ``(y, x, c)`` with ``c`` in :data:`COLOUR_CHANNELS`
        for colour.
    dtype
        One of :data:`SUPPORTED_DTYPES`.
    """

    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        if self.dtype.name not in SUPPORTED_DTYPES:
            raise ValueError(
                f"frame dtype {self.dtype.name!r} is not supported; "
                f"allowed: {', '.join(SUPPORTED_DTYPES)}"
            )
        grayscale = len(self.shape) == 2
        colour = len(self.shape) == 3 and self.shape[2] in COLOUR_CHANNELS
        if not (grayscale or colour) or min(self.shape) < 1:
            raise ValueError(
                f"frame shape {self.shape} is not supported; allowed: (y, x) for "
                f"grayscale or (y, x, c) with c in {COLOUR_CHANNELS} for colour, "
                "every size >= 1"
            )

    @classmethod
    def of(cls, frame: np.ndarray) -> FrameFormat:
        """Return the format of ``frame``, raising ``ValueError`` if unsupported."""
        return cls(frame.shape, frame.dtype)

    @property
    def is_colour(self) -> bool:
        """Whether frames have a colour axis."""
        return len(self.shape) == 3

    def check(self, frame: np.ndarray) -> None:
        """Raise ``ValueError`` unless ``frame`` has exactly this format."""
        if frame.shape != self.shape or frame.dtype != self.dtype:
            raise ValueError(
                f"frame of shape {frame.shape} and dtype {frame.dtype.name!r} does not match "
                f"the acquisition's first frame (shape {self.shape}, dtype "
                f"{self.dtype.name!r}); every frame of one acquisition must have the same "
                "shape and dtype"
            )


@dataclass(frozen=True)
class ResourceDescription:
    """What a Resource document needs to point at a writer's output.

    Attributes
    ----------
    spec
        The Resource spec (see :mod:`bluesky_timelapse.specs`).
    relative_path
        The output's path relative to the directory the writer was opened in, with
        ``/`` separators; empty when the output is that directory itself.
    resource_kwargs
        The spec's ``resource_kwargs``.
    """

    spec: str
    relative_path: str
    resource_kwargs: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class FrameWriter(Protocol):
    """Writes the frames of one acquisition into one location.

    A writer knows nothing of ophyd or bluesky: it is opened on a directory with a
    name, appends frames, counts the frames that are safely on disk, and describes
    its output for Resource and Datum documents.
    """

    def open(self, directory: Path, name: str) -> None:
        """Create the output ``name`` in ``directory``; never overwrite anything."""

    def append(self, frame: np.ndarray) -> int:
        """Write ``frame`` and return its index in this acquisition (0-based)."""

    @property
    def frames_written(self) -> int:
        """Frames complete on disk (and synced, if the writer syncs)."""

    def close(self) -> None:
        """Finish the output; appending afterwards raises."""

    def describe(self) -> ResourceDescription:
        """Describe the output for a Resource document."""

    def datum_kwargs(self, index: int) -> dict[str, Any]:
        """Return the ``datum_kwargs`` that address the frame ``index``."""


class FileFrameWriter(abc.ABC):
    """Base class of the bundled writers: format checks, counting and syncing.

    Subclasses implement :meth:`_create`, :meth:`_write`, :meth:`_sync`,
    :meth:`_close` and :meth:`describe`.

    Parameters
    ----------
    fsync
        If True (default), every frame is flushed to stable storage (``fsync``)
        before it counts as written, so a power cut loses no counted frame.
    """

    def __init__(self, *, fsync: bool = True) -> None:
        self.fsync = fsync
        self.directory: Path | None = None
        self.name: str | None = None
        self.frame_format: FrameFormat | None = None
        self._frames_written = 0
        self._closed = False

    def __repr__(self) -> str:
        where = "unopened" if self.directory is None else f"{self.directory}/{self.name}"
        return f"{type(self).__name__}({where}, frames_written={self._frames_written})"

    @property
    def frames_written(self) -> int:
        """Frames complete on disk (and fsynced, if ``fsync``)."""
        return self._frames_written

    def open(self, directory: Path, name: str) -> None:
        """Create the output ``name`` in the existing ``directory``.

        Raises
        ------
        ValueError
            If ``name`` is not a plain file name.
        PermissionError
            If ``directory`` does not accept new files.
        FileExistsError
            If the output already exists: nothing is ever overwritten.
        """
        if self.directory is not None:
            raise RuntimeError(f"{self!r} is already open; a writer is opened once")
        if not name or name in {".", ".."} or any(c in name for c in "/\\\0"):
            raise ValueError(
                f"output name {name!r} is not a plain file name; allowed: a non-empty "
                "name without '/', '\\' or NUL"
            )
        directory = Path(directory)
        _probe_writable(directory)
        self._create(directory, name)
        self.directory, self.name = directory, name

    def append(self, frame: np.ndarray) -> int:
        """Write ``frame``; raises before touching any file if its format differs."""
        if self.directory is None or self._closed:
            raise RuntimeError(f"{self!r} is not open")
        frame = np.asarray(frame)
        if self.frame_format is None:
            frame_format = FrameFormat.of(frame)
            self._start(frame_format)
            self.frame_format = frame_format
        else:
            self.frame_format.check(frame)
        index = self._frames_written
        self._write(frame, index)
        if self.fsync:
            self._sync(index)
        self._frames_written = index + 1
        return index

    def close(self) -> None:
        """Flush and close the output. Closing twice is harmless."""
        if self.directory is not None and not self._closed:
            self._close()
        self._closed = True

    def datum_kwargs(self, index: int) -> dict[str, Any]:
        """Return ``{"point_number": index}``, what AD-style handlers take."""
        return {"point_number": index}

    @abc.abstractmethod
    def describe(self) -> ResourceDescription:
        """Describe the output for a Resource document."""

    @abc.abstractmethod
    def _create(self, directory: Path, name: str) -> None:
        """Create the output exclusively; raise ``FileExistsError`` if present."""

    def _start(self, frame_format: FrameFormat) -> None:  # noqa: B027
        """Prepare for frames of ``frame_format`` (called before the first frame)."""

    @abc.abstractmethod
    def _write(self, frame: np.ndarray, index: int) -> None:
        """Write one validated frame."""

    @abc.abstractmethod
    def _sync(self, index: int) -> None:
        """Flush frame ``index`` to stable storage."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release the output."""


class FileSequenceWriter(FileFrameWriter):
    """A writer of one new file per frame, ``{name}_{index}{suffix}``; never overwrites.

    Subclasses set :attr:`kind` and :attr:`suffix`, name each frame's file in
    :meth:`path_of` and fill it in :meth:`_write_file`. A frame counts once its
    file (and, with ``fsync``, its directory entry) is on disk.
    """

    kind: str = "file"
    """What the files are, for messages (e.g. ``"TIFF"``)."""

    suffix: str = ""
    """The files' ending (e.g. ``".tiff"``)."""

    @abc.abstractmethod
    def path_of(self, index: int) -> Path:
        """Return the file of frame ``index``."""

    @abc.abstractmethod
    def _write_file(self, file: IO[bytes], frame: np.ndarray) -> None:
        """Write one validated frame into a new, empty ``file``."""

    def _create(self, directory: Path, name: str) -> None:
        existing = sorted(directory.glob(f"{name}_*{self.suffix}"))
        if existing:
            raise FileExistsError(
                f"{self.kind} sequence {name!r} already exists in {str(directory)!r} "
                f"({existing[0].name}, ...); choose another name, nothing is overwritten"
            )

    def _write(self, frame: np.ndarray, index: int) -> None:
        path = self.path_of(index)
        with open(path, "xb") as file:
            try:
                self._write_file(file, frame)
                if self.fsync:
                    file.flush()
                    os.fsync(file.fileno())
            except BaseException:
                file.close()
                path.unlink(missing_ok=True)  # a failed write leaves nothing behind
                raise

    def _sync(self, index: int) -> None:
        assert self.directory is not None
        fsync_directory(self.directory)

    def _close(self) -> None:
        pass


def _probe_writable(directory: Path) -> None:
    if not directory.is_dir():
        raise NotADirectoryError(f"cannot write frames into {str(directory)!r}: not a directory")
    probe = directory / f".bluesky-timelapse-probe-{uuid.uuid4().hex}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as err:
        raise PermissionError(
            f"cannot write frames into {str(directory)!r}: the directory does not accept "
            f"new files ({err.strerror})"
        ) from err
    os.close(fd)
    probe.unlink()
