"""Transitional: removed once every module uses :mod:`bluesky_timelapse.data_dir`."""

from pathlib import Path

from .data_dir import DATA_DIR_VARIABLE, DataDirectory, use_session_data_dir

__all__ = ["DATA_DIR_VARIABLE", "default_data_dir", "use_session_data_dir"]


def default_data_dir() -> Path:
    return DataDirectory.default().root
