"""Files a folder camera's program wrote while nothing was acquiring, emitted once."""

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky.protocols import Movable, Readable, Triggerable
from bluesky.utils import MsgGenerator

from ..sources import FilePattern


@runtime_checkable
class HasBacklog(Readable, Triggerable, Protocol):
    """What :func:`ingest_backlog` needs of a camera: a backlog of files, and a replay.

    :class:`~bluesky_timelapse.devices.FolderCamera` and
    :class:`~bluesky_timelapse.async_devices.AsyncFolderCamera` are such cameras.
    """

    @property
    def pattern(self) -> FilePattern:
        """The template of the camera's files."""

    @property
    def next_file(self) -> Movable[str]:
        """A path set here is the next trigger's file, taken at once."""

    def backlog(self) -> list[Path]:
        """The complete files no frame was made of yet, oldest first."""


def ingest_backlog(camera: Readable, *, md: dict[str, Any] | None = None) -> MsgGenerator[int]:
    """Emit, as one run, every file the camera has not used yet, oldest first.

    The backlog is the files matching the camera's template that are newer
    (modification time, then path) than the newest file the camera has used,
    recorded in its ``state_file``; files still being written are left for later.
    Each file is one event, as a trigger would give; the record advances with each
    event, so a second call, or a call after a crash, emits nothing twice. With
    no backlog there is no run.

    Parameters
    ----------
    camera
        A :class:`~bluesky_timelapse.devices.FolderCamera` or
        :class:`~bluesky_timelapse.async_devices.AsyncFolderCamera` (any
        :class:`HasBacklog`).
    md
        Metadata for the start document.

    Yields
    ------
    Msg
        ``stage``, ``open_run``; per file ``set`` (the camera's ``next_file``),
        ``trigger``, ``wait``, ``create``, ``read``, ``save``; then ``close_run``
        and ``unstage``.

    Returns
    -------
    int
        How many files were emitted.

    Raises
    ------
    TypeError
        If ``camera`` has no backlog.
    FileNotFoundError
        If the template's fixed directory does not exist.
    """
    if not isinstance(camera, HasBacklog):
        raise TypeError(
            f"ingest_backlog needs a camera with a backlog (a FolderCamera or an "
            f"AsyncFolderCamera); {getattr(camera, 'name', camera)!r} is a "
            f"{type(camera).__name__}"
        )
    files = camera.backlog()
    if not files:
        return 0
    metadata = {
        "plan_name": "ingest_backlog",
        "detectors": [camera.name],
        "folder_template": camera.pattern.template,
        "num_points": len(files),
        **(md or {}),
    }

    @bpp.stage_decorator([camera])
    @bpp.run_decorator(md=metadata)
    def emit() -> MsgGenerator[None]:
        for path in files:
            yield from bps.abs_set(camera.next_file, str(path), wait=True)
            yield from bps.trigger_and_read([camera])

    yield from emit()
    return len(files)
