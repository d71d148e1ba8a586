"""The data directory: where the package keeps everything on this machine, and its layout.

One :class:`DataDirectory` names every part, so the session, the commands, the
embedded server and the cameras agree on where things are:

=====================  ======================================================
``md.json``            ``RE.md`` (:class:`~bluesky_timelapse.persistence.PersistentMetadata`)
``frames/``            where cameras write (readable by the embedded server)
``journal/``           the Tiled sink's journal and its health file
``tiled/``             the embedded Tiled server's catalog, key and log
``timelapses/``        the timelapse store
``folder_cameras/``    each FolderCamera's newest used file
``products/``          videos and pictures of timelapses (``export``, the demo)
``logs/``              ``bluesky-timelapse.log``, rotated
``qserver/``           the queueserver's list of plans and devices
=====================  ======================================================

Which directory: the one given, else the open session's (while a
:func:`~bluesky_timelapse.session.configure` session is open, ``timelapse()``
without a store records in it), else ``$BLUESKY_TIMELAPSE_DIR``, else the
platform's user data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

DATA_DIR_VARIABLE = "BLUESKY_TIMELAPSE_DIR"
"""Environment variable that overrides the default data directory."""

_session_root: Path | None = None
# The open session's directory. A plan given to the RunEngine (or queued) has no
# other way to learn it: a context variable does not reach the RunEngine's
# event-loop thread. Set and cleared only by the session.


@dataclass(frozen=True)
class DataDirectory:
    """A data directory and its parts; nothing is created until asked.

    Parameters
    ----------
    root
        The directory; made absolute.
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).absolute())

    @classmethod
    def default(cls) -> DataDirectory:
        """The open session's, else ``$BLUESKY_TIMELAPSE_DIR``, else the user data directory."""
        if _session_root is not None:
            return cls(_session_root)
        override = os.environ.get(DATA_DIR_VARIABLE)
        return cls(
            Path(override) if override else platformdirs.user_data_path("bluesky-timelapse")
        )

    @classmethod
    def given(cls, root: Path | str | None) -> DataDirectory:
        """``root`` if given (not None), else :meth:`default`."""
        return cls.default() if root is None else cls(Path(root))

    @property
    def metadata(self) -> Path:
        """``RE.md``, kept across restarts: ``md.json``."""
        return self.root / "md.json"

    @property
    def frames(self) -> Path:
        """Where cameras write frames: ``frames/``."""
        return self.root / "frames"

    @property
    def journal(self) -> Path:
        """The Tiled sink's journal: ``journal/``."""
        return self.root / "journal"

    @property
    def tiled(self) -> Path:
        """The embedded Tiled server's directory: ``tiled/``."""
        return self.root / "tiled"

    @property
    def timelapses(self) -> Path:
        """The timelapse store: ``timelapses/``."""
        return self.root / "timelapses"

    @property
    def products(self) -> Path:
        """Videos and pictures made of timelapses: ``products/``."""
        return self.root / "products"

    @property
    def logs(self) -> Path:
        """Log files: ``logs/``."""
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        """The session's rotating log: ``logs/bluesky-timelapse.log``."""
        return self.logs / "bluesky-timelapse.log"

    @property
    def qserver(self) -> Path:
        """The queueserver's files: ``qserver/``."""
        return self.root / "qserver"

    def folder_camera_state(self, name: str) -> Path:
        """Where the FolderCamera ``name`` records the newest file it used."""
        return self.root / "folder_cameras" / f"{name}.json"


def use_session_data_dir(root: Path | None) -> None:
    """Make ``root`` the default data directory while a session is open (None: no session)."""
    global _session_root
    _session_root = root
