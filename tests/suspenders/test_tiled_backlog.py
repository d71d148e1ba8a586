"""A Tiled backlog (suspenders/_tiled_backlog.py).

The sink is a fake whose backlog timers change while the plan is held.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from bluesky.plans import count
from ophyd.sim import det

from bluesky_timelapse.callbacks import SinkHealth
from bluesky_timelapse.suspenders import SuspendWhenTiledBacklog, SuspensionLog


class FakeSink:
    """Just the health() a TiledSink offers."""

    def __init__(self, depth):
        self.depth = depth

    def health(self):
        return SinkHealth(self.depth, None, 1, "ConnectError: refused", False, time.time())


def test_tiled_backlog_holds_the_plan_until_it_drains(RE):
    sink = FakeSink(depth=500)  # already too far behind when the plan starts
    log = SuspensionLog()
    events = []
    log.subscribe(lambda event, reason, when: events.append((event, reason)))
    suspender = SuspendWhenTiledBacklog(sink, max_documents=100, poll_interval=0.05, log=log)
    RE.install_suspender(suspender)
    threading.Timer(0.3, setattr, [sink, "depth", 60]).start()  # not yet below resume_below=50
    threading.Timer(0.6, setattr, [sink, "depth", 10]).start()
    started = time.monotonic()
    try:
        RE(count([det], num=2))
    finally:
        RE.remove_suspender(suspender)
    assert time.monotonic() - started >= 0.5
    assert [event for event, _ in events] == ["suspended", "resumed"]
    assert events[0][1] == (
        "500 documents wait to be sent to Tiled, more than the 100 allowed "
        "(last error: ConnectError: refused)"
    )
    assert events[1][1] == "the Tiled backlog is down to 10 documents"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_documents": 0}, "max_documents 0 is invalid; allowed: an integer >= 1"),
        (
            {"max_documents": 10, "resume_below": 11},
            "resume_below 11 is invalid; allowed: an integer from 0 to max_documents (10)",
        ),
    ],
)
def test_tiled_backlog_thresholds_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SuspendWhenTiledBacklog(FakeSink(0), **kwargs)
