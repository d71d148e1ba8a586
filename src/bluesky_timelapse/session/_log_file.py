"""The session's rotating log file, created for its user only."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any

from .._files import make_private_directory

LOGGERS = ("bluesky_timelapse", "bluesky")
"""Loggers whose records go to the log file."""

_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"
_LOG_BYTES = 10_000_000
_LOG_BACKUPS = 5


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are created 0600 (for this user only), whatever the umask."""

    def _open(self) -> Any:
        descriptor = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(descriptor, "a", encoding=self.encoding, errors=self.errors)


def attach_log_file(
    default: Path, log_file: bool | Path | str, level: int | str
) -> logging.handlers.RotatingFileHandler | None:
    """Log :data:`LOGGERS` to ``default`` (True), to ``log_file`` (a path), or nowhere (False)."""
    if log_file is False:
        return None
    if log_file is True:
        path = default
        make_private_directory(path.parent)
    else:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
    handler = _PrivateRotatingFileHandler(
        path, maxBytes=_LOG_BYTES, backupCount=_LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    for name in LOGGERS:
        named = logging.getLogger(name)
        if named.level == logging.NOTSET:
            named.setLevel(level)
        named.addHandler(handler)
    return handler


def detach_log_file(handler: logging.Handler) -> None:
    """Stop logging to ``handler`` and close it."""
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()
