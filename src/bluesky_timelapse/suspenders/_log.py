"""The suspension log: who is told when a RunEngine suspends and resumes, and why."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

logger = logging.getLogger("bluesky_timelapse.suspenders")

SuspensionEvent = Literal["suspended", "resumed"]
"""What happened to the RunEngine, which started or stopped waiting for a suspender."""

SuspensionCallback = Callable[[SuspensionEvent, str, datetime], None]
"""``callback(event, reason, when)``; ``when`` is timezone-aware UTC."""


class SuspensionLog:
    """Tells its subscribers when a RunEngine suspends and resumes, and why.

    Callbacks are called as ``callback(event, reason, when)`` with ``event``
    ``"suspended"`` or ``"resumed"``, a human sentence ``reason``, and ``when`` the
    timezone-aware UTC time. The suspenders here call them on the RunEngine's
    event-loop thread, while the RunEngine waits: keep them short and never
    call the RunEngine from them. A callback that raises is logged and skipped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[int, SuspensionCallback] = {}
        self._tokens = itertools.count()

    def subscribe(self, callback: SuspensionCallback) -> int:
        """Call ``callback`` on every suspension and resumption; return a token."""
        if not callable(callback):
            raise ValueError(f"callback {callback!r} is not callable; allowed: a callable")
        with self._lock:
            token = next(self._tokens)
            self._callbacks[token] = callback
        return token

    def unsubscribe(self, token: int) -> None:
        """Stop calling the callback of ``token``; an unknown token is ignored."""
        with self._lock:
            self._callbacks.pop(token, None)

    def emit(self, event: SuspensionEvent, reason: str, when: datetime | None = None) -> None:
        """Call every subscriber with ``(event, reason, when)`` (``when`` defaults to now)."""
        when = datetime.now(UTC) if when is None else when
        with self._lock:
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            try:
                callback(event, reason, when)
            except Exception:
                logger.exception("suspension log callback %r failed on %r", callback, event)


suspension_log = SuspensionLog()
"""The log every suspender here reports to unless given another one."""
