"""Where the package keeps its data on this machine."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_DIR_VARIABLE = "BLUESKY_TIMELAPSE_DIR"
"""Environment variable that overrides the default data directory."""

_session_data_dir: Path | None = None


def default_data_dir() -> Path:
    """The open session's data directory, else ``$BLUESKY_TIMELAPSE_DIR``, else the
    platform's user data directory.

    While a :func:`~bluesky_timelapse.session.configure` session is open, what
    defaults to the data directory (the timelapse store, a FolderCamera's state
    file) lands in that session's.
    """
    if _session_data_dir is not None:
        return _session_data_dir
    override = os.environ.get(DATA_DIR_VARIABLE)
    return Path(override) if override else platformdirs.user_data_path("bluesky-timelapse")


def use_session_data_dir(directory: Path | None) -> None:
    """Make ``directory`` the default data directory (None: back to the usual default)."""
    global _session_data_dir
    _session_data_dir = directory
