"""Where the package keeps its data on this machine."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_DIR_VARIABLE = "BLUESKY_TIMELAPSE_DIR"
"""Environment variable that overrides the default data directory."""


def default_data_dir() -> Path:
    """``$BLUESKY_TIMELAPSE_DIR``, else the platform's user data directory."""
    override = os.environ.get(DATA_DIR_VARIABLE)
    return Path(override) if override else platformdirs.user_data_path("bluesky-timelapse")
