"""Options and argument types the commands share."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data_dir import DATA_DIR_VARIABLE


def add_data_dir_option(
    parser: argparse.ArgumentParser, help: str = "the data directory", *, suffix: str = ""
) -> None:
    """Add ``--data-dir DIR`` (default ``$BLUESKY_TIMELAPSE_DIR`` or the user data directory)."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"{help} (default ${DATA_DIR_VARIABLE} or the user data directory{suffix})",
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; give a whole number >= 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; give seconds > 0")
    return value


def port_number(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"{value} is not allowed; give a port 1-65535, or 0 for a free one"
        )
    return value
