"""Schedules from their specs (schedules/_spec.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bluesky_timelapse.schedules import (
    DURATION_SYNTAX,
    KINDS,
    At,
    Daily,
    Every,
    Union,
    at,
    daily,
    every,
    schedule_from_spec,
    union,
)
from schedule_checks import (
    INTERVAL_ALLOWED,
    START,
    fails_with,
    utc,
)


def test_from_spec_returns_a_schedule_as_is():
    schedule = every("1h")
    assert schedule_from_spec(schedule) is schedule


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"kind": "every", "interval": "10m", "count": 5, "start": "2026-05-01T06:00Z"},
            every(600, count=5, start=START),
        ),
        (
            {
                "kind": "every",
                "interval": 600,
                "until": "2026-05-01T08:00:00+02:00",
                "start": "2026-05-01T06:00Z",
            },
            every("10m", until=START, start=START),
        ),
        ({"kind": "at", "times": ["2026-05-01T06:00Z"]}, at(START)),
        (
            {
                "kind": "daily",
                "interval": "1h30m",
                "start_time": "06:00",
                "end_time": "20:00",
                "timezone": "UTC",
                "start": "2026-05-01T00:00Z",
            },
            daily(5400, timezone="UTC", start=utc(2026, 5, 1)),
        ),
        (
            {"kind": "union", "schedules": [{"kind": "at", "times": ["2026-05-01T06:00Z"]}]},
            union(at(START)),
        ),
    ],
)
def test_from_spec_dicts_and_json(spec, expected):
    assert schedule_from_spec(spec) == expected
    assert schedule_from_spec(json.dumps(spec)) == expected


def test_from_spec_without_start_means_now():
    before = datetime.now(UTC)
    schedule = schedule_from_spec({"kind": "every", "interval": "10m", "count": 5})
    assert isinstance(schedule, Every)
    assert before <= schedule.start <= datetime.now(UTC)


def test_a_spec_may_name_fields_by_python_name_only_through_count():
    assert Every(interval=5, count=2, start=START).max_count == 2
    with fails_with("max_count is not a field of this schedule; check its spelling"):
        schedule_from_spec({"kind": "every", "interval": 5, "max_count": 2})


ALLOWED_KINDS = "allowed: every, at, daily, union"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "weekly"}, f"schedule kind 'weekly' is not known; {ALLOWED_KINDS}"),
        (
            '{"kind": "hourly", "interval": 5}',
            f"schedule kind 'hourly' is not known; {ALLOWED_KINDS}",
        ),
        ({"interval": "10m"}, f"schedule spec has no 'kind'; {ALLOWED_KINDS}"),
        (
            5,
            "schedule spec 5 is not a schedule; allowed: a Schedule, a dict with a 'kind' "
            "(every, at, daily, union) or its JSON string",
        ),
        (
            "[1, 2]",
            "schedule spec [1, 2] is not a schedule; allowed: a Schedule, a dict with a 'kind' "
            "(every, at, daily, union) or its JSON string",
        ),
        (
            '{"kind": "every"',
            "schedule spec '{\"kind\": \"every\"' is not valid JSON (Expecting ',' delimiter "
            "at position 16); allowed: a JSON object such as "
            '\'{"kind": "every", "interval": "10m"}\'',
        ),
        ({"kind": "every"}, "interval is required"),
        (
            {"kind": "every", "intervall": "10m"},
            "interval is required; intervall is not a field of this schedule; check its spelling",
        ),
        (
            {"kind": "every", "interval": "10m", "count": "5"},
            "count '5' is not an integer >= 1; allowed: a number of slots >= 1, or None for "
            "no limit",
        ),
        (
            {"kind": "every", "interval": "10x"},
            f"interval '10x' is not understood; allowed: {DURATION_SYNTAX}",
        ),
        (
            {"kind": "at", "times": 5},
            "times 5 is not a list of times; allowed: datetimes or ISO 8601 strings",
        ),
        (
            {
                "kind": "daily",
                "interval": "1h",
                "start_time": "06:00",
                "end_time": "20:00",
                "timezone": "Mars/Olympus",
            },
            "timezone 'Mars/Olympus' is not a known IANA time zone; allowed: 'local' or a name "
            "such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
        ),
        (
            {
                "kind": "daily",
                "interval": "1h",
                "start_time": "06:00",
                "end_time": "20:00",
                "timezone": "Europe/Berln",
            },
            "timezone 'Europe/Berln' is not a known IANA time zone; allowed: 'local' or a name "
            "such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
        ),
        ({"kind": "union", "schedules": []}, "schedules is empty; allowed: one or more schedules"),
        (
            {"kind": "union", "schedules": 5},
            "schedules 5 is not a list of schedules; allowed: schedules or specs",
        ),
        (
            {
                "kind": "union",
                "schedules": [
                    {"kind": "at", "times": ["2026-01-01"]},
                    {"kind": "every", "interval": 0},
                ],
            },
            f"schedules[1]: interval 0 is not positive; {INTERVAL_ALLOWED}",
        ),
        (
            {"kind": "union", "schedules": [{"kind": "every"}]},
            "schedules[0]: interval is required",
        ),
        (
            {"kind": "union", "schedules": [{"kind": "yearly"}]},
            f"schedules[0]: schedule kind 'yearly' is not known; {ALLOWED_KINDS}",
        ),
        (
            {
                "kind": "union",
                "schedules": [
                    {"kind": "union", "schedules": [{"kind": "every", "interval": 1, "count": 0}]}
                ],
            },
            "schedules[0].schedules[0]: count 0 is not an integer >= 1; allowed: a number of "
            "slots >= 1, or None for no limit",
        ),
    ],
)
def test_from_spec_rejects(spec, message):
    with fails_with(message):
        schedule_from_spec(spec)


def test_kinds_are_the_discriminator_values():
    assert KINDS == ("every", "at", "daily", "union")
    assert [cls.model_fields["kind"].default for cls in (Every, At, Daily, Union)] == list(KINDS)
