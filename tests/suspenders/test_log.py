"""The suspension log (suspenders/_log.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bluesky_timelapse.suspenders import SuspensionLog


def test_suspension_log_subscribe_unsubscribe_and_failing_callbacks(caplog):
    log = SuspensionLog()
    calls: list[str] = []

    def broken(event: str, reason: str, when: datetime) -> None:
        raise RuntimeError("boom")

    log.subscribe(broken)
    token = log.subscribe(lambda event, reason, when: calls.append(f"{event}: {reason}"))
    when = datetime(2025, 1, 1, tzinfo=UTC)
    log.emit("suspended", "why", when)
    log.unsubscribe(token)
    log.unsubscribe(token)  # twice is harmless
    log.emit("resumed", "because")

    assert calls == ["suspended: why"]
    assert "suspension log callback" in caplog.text
    with pytest.raises(ValueError, match="callback 42 is not callable; allowed: a callable"):
        log.subscribe(42)  # type: ignore[arg-type]
