"""What every schedule does (schedules/_base.py)."""

from __future__ import annotations

import pytest

from bluesky_timelapse.schedules import (
    at,
    daily,
    every,
    union,
)
from schedule_checks import (
    START,
    fails_with,
)


@pytest.mark.parametrize("start_index", [-1, 1.5, "3"])
def test_slots_rejects_a_bad_start_index_at_once(start_index):
    for schedule in (every("1h"), at(START), daily("1h", timezone="UTC"), union(at(START))):
        with fails_with(f"start_index {start_index!r} is not an integer >= 0"):
            schedule.slots(start_index)


def test_schedules_are_frozen():
    schedule = every("1h", start=START)
    with pytest.raises(ValueError, match="frozen"):
        schedule.interval = 5  # type: ignore[misc]
    assert hash(schedule) == hash(every("1h", start=START))
