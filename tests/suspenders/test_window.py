"""Outside a daily window (suspenders/_window.py).

Conditions are made bad and good through injected measurements (a fake disk, a
fake clock) or ophyd puts from timers; every assertion is on the recorded order
of messages and suspensions, never on how long something took.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from datetime import time as time_of_day
from zoneinfo import ZoneInfo

import pytest
import tzlocal
from bluesky.plans import count
from ophyd.sim import det

from bluesky_timelapse.suspenders import DailyWindow, SuspendOutsideWindow
from support import only
from suspender_fakes import POLL, FakeClock

# -- holding a plan ---------------------------------------------------------------------


def test_outside_window_holds_until_the_window_opens(
    RE, documents, install, later, log, recorder, messages
):
    berlin = ZoneInfo("Europe/Berlin")
    clock = FakeClock(datetime(2025, 6, 1, 5, 59, 59, tzinfo=berlin))
    suspender = install(
        SuspendOutsideWindow(
            ("06:00", "20:00"), timezone="Europe/Berlin", poll_interval=POLL, now=clock, log=log
        )
    )
    assert suspender.tripped
    messages.ok = lambda: suspender.window.contains(clock.now)
    later(0.5, lambda: setattr(clock, "now", datetime(2025, 6, 1, 4, 0, tzinfo=UTC)))

    RE(count([det], num=3, delay=0.1))

    assert all(ok for _, ok in messages.after("wait_for"))
    assert len(only(documents, "event")) == 3
    assert recorder.events == [
        (
            "suspended",
            "it is 05:59:59 in Europe/Berlin, outside the daily window from 06:00 to 20:00 "
            "(Europe/Berlin); waiting until 06:00",
        ),
        (
            "resumed",
            "it is 06:00:00 in Europe/Berlin, inside the daily window from 06:00 to 20:00 "
            "(Europe/Berlin)",
        ),
    ]


# -- parsing ----------------------------------------------------------------------------


def test_daily_window_parses_times_and_zones():
    window = DailyWindow.parse(("6:00", "20:30:15"), "Europe/Berlin")
    assert window == DailyWindow(
        time_of_day(6), time_of_day(20, 30, 15), ZoneInfo("Europe/Berlin")
    )
    assert str(window) == "from 06:00 to 20:30:15 (Europe/Berlin)"
    assert DailyWindow.parse([time_of_day(22), "06:00"], "UTC").start == time_of_day(22)
    local = DailyWindow.parse(("06:00", "20:00"))
    assert local.zone == ZoneInfo(tzlocal.get_localzone_name())


@pytest.mark.parametrize(
    ("between", "timezone", "message"),
    [
        (
            ("25:00", "20:00"),
            "UTC",
            "start '25:00' is not a wall-clock time; "
            "allowed: 'HH:MM' or 'HH:MM:SS' (e.g. '06:00') or a datetime.time without tzinfo "
            "(the zone is timezone's)",
        ),
        (
            ("06:00", "8pm"),
            "UTC",
            "end '8pm' is not a wall-clock time; "
            "allowed: 'HH:MM' or 'HH:MM:SS' (e.g. '06:00') or a datetime.time without tzinfo "
            "(the zone is timezone's)",
        ),
        (
            ("06:60", "20:00"),
            "UTC",
            "start '06:60' is not a wall-clock time; "
            "allowed: 'HH:MM' or 'HH:MM:SS' (e.g. '06:00') or a datetime.time without tzinfo "
            "(the zone is timezone's)",
        ),
        (
            "06:00-20:00",
            "UTC",
            "between '06:00-20:00' is invalid; allowed: a pair of times (start, end) such "
            "as ('06:00', '20:00')",
        ),
        (
            ("06:00",),
            "UTC",
            "between ('06:00',) is invalid; allowed: a pair of times (start, end) such "
            "as ('06:00', '20:00')",
        ),
        (
            ("06:00", "06:00"),
            "UTC",
            "between ('06:00', '06:00') is an empty window; allowed: two different times "
            "(an end earlier than the start spans midnight)",
        ),
        (
            ("06:00", "20:00"),
            "Mars/Olympus_Mons",
            "timezone 'Mars/Olympus_Mons' is not a known IANA time zone; allowed: 'local' or "
            "a name such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
        ),
    ],
)
def test_daily_window_rejects(between, timezone, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        DailyWindow.parse(between, timezone)


@pytest.mark.parametrize(
    ("between", "when", "inside"),
    [
        (("06:00", "20:00"), datetime(2025, 6, 1, 6, 0), True),
        (("06:00", "20:00"), datetime(2025, 6, 1, 19, 59, 59), True),
        (("06:00", "20:00"), datetime(2025, 6, 1, 20, 0), False),
        (("06:00", "20:00"), datetime(2025, 6, 1, 5, 59, 59), False),
        (("20:00", "06:00"), datetime(2025, 6, 1, 23, 0), True),
        (("20:00", "06:00"), datetime(2025, 6, 1, 3, 0), True),
        (("20:00", "06:00"), datetime(2025, 6, 1, 12, 0), False),
        # Berlin springs forward on 2024-03-31 at 01:00 UTC: 04:30 UTC is 06:30 CEST.
        (("06:00", "20:00"), datetime(2024, 3, 31, 4, 30, tzinfo=UTC), True),
        (("06:00", "20:00"), datetime(2024, 3, 30, 4, 30, tzinfo=UTC), False),
        # ...and falls back on 2024-10-27: 04:30 UTC is 05:30 CET.
        (("06:00", "20:00"), datetime(2024, 10, 27, 4, 30, tzinfo=UTC), False),
        (("06:00", "20:00"), datetime(2024, 10, 26, 4, 30, tzinfo=UTC), True),
        # A start inside the skipped hour opens at the first time after it.
        (("02:30", "04:00"), datetime(2024, 3, 31, 1, 0, tzinfo=UTC), True),
    ],
)
def test_daily_window_contains_on_the_wall_clock(between, when, inside):
    window = DailyWindow.parse(between, "Europe/Berlin")
    assert window.contains(when) is inside
