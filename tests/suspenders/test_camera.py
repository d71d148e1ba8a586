"""A stale camera (suspenders/_camera.py).

Conditions are made bad and good through injected measurements (a fake disk, a
fake clock) or ophyd puts from timers; every assertion is on the recorded order
of messages and suspensions, never on how long something took.
"""

from __future__ import annotations

import re
import time

import pytest
from bluesky.plans import count
from ophyd import Signal
from ophyd.sim import det

from bluesky_timelapse.suspenders import SuspendStaleCamera
from support import only, validate
from suspender_fakes import POLL

# -- holding a plan ---------------------------------------------------------------------


def test_stale_camera_holds_until_a_new_frame(
    RE, documents, install, later, log, recorder, messages
):
    image = Signal(name="cam_image", value="frame-0", timestamp=time.time() - 100)
    suspender = install(SuspendStaleCamera(image, max_age=5, poll_interval=POLL, log=log))
    assert suspender.tripped
    messages.ok = lambda: image.get() != "frame-0"
    later(0.5, lambda: image.put("frame-1"))

    RE(count([det], num=3, delay=0.1))

    assert messages.entries[0] == ("wait_for", False)
    assert all(ok for _, ok in messages.after("wait_for"))
    validate(documents)
    assert len(only(documents, "event")) == 3
    (event, suspended), (event2, resumed) = recorder.events
    assert (event, event2) == ("suspended", "resumed")
    assert re.fullmatch(
        r"cam_image has not updated for 100\.\d s, longer than the 5 s maximum", suspended
    )
    assert re.fullmatch(r"cam_image updated again after 100\.\d s", resumed)


def test_stale_camera_trips_when_frames_stop(RE, install, log):
    now = [1000.0]
    image = Signal(name="cam_image", value=0, timestamp=now[0])
    suspender = install(
        SuspendStaleCamera(image, max_age=30, poll_interval=60, clock=lambda: now[0], log=log)
    )
    assert not suspender.tripped
    now[0] = 1031.0
    suspender.signal.poll()
    assert suspender.reason == "cam_image has not updated for 31.0 s, longer than the 30 s maximum"
    image.put(1)  # the update alone resumes, without waiting for a poll
    assert not suspender.tripped


# -- parsing ----------------------------------------------------------------------------


def test_stale_camera_max_age_check():
    message = "max_age inf is invalid; allowed: a finite number of seconds > 0"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        SuspendStaleCamera(Signal(name="cam_image"), max_age=float("inf"))
