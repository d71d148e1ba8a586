"""Timelapse plans: schedules, absolute-time waits, and the resumable timelapse.

- :mod:`~bluesky_timelapse.plans.schedule`: schedules as validated data
  (:func:`every`, :func:`at`, :func:`daily`, :func:`union`).
- :func:`wait_until`: a plan stub that waits for an absolute time, and after a
  pause or suspension only for what is left.
- :func:`timelapse` / :func:`resume_timelapse`: one run per slot, every state
  change saved, resumable after any crash.
- :func:`ingest_backlog`: the files a folder camera's program wrote while nothing
  was acquiring, emitted once.
"""

from .backlog import HasBacklog, ingest_backlog
from .runs import close_orphaned_run, install_commands, watch_runs
from .schedule import (
    Schedule,
    Slot,
    at,
    daily,
    every,
    parse_duration,
    schedule_from_spec,
    union,
)
from .status import TimelapseSummary, list_timelapses, timelapse_status
from .stubs import seconds_until, wait_until
from .timelapse import TimelapseOptions, resolve_plan, resume_timelapse, timelapse

__all__ = [
    "HasBacklog",
    "Schedule",
    "Slot",
    "TimelapseOptions",
    "TimelapseSummary",
    "at",
    "close_orphaned_run",
    "daily",
    "every",
    "ingest_backlog",
    "install_commands",
    "list_timelapses",
    "parse_duration",
    "resolve_plan",
    "resume_timelapse",
    "schedule_from_spec",
    "seconds_until",
    "timelapse",
    "timelapse_status",
    "union",
    "wait_until",
    "watch_runs",
]
