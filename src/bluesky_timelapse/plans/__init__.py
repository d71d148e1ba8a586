"""Timelapse plans: absolute-time waits, the resumable timelapse, and the backlog.

- :func:`wait_until`: a plan stub that waits for an absolute time, and after a
  pause or suspension only for what is left.
- :func:`timelapse` / :func:`resume_timelapse`: one run per slot, every state
  change saved, resumable after any crash.
- :func:`ingest_backlog`: the files a folder camera's program wrote while nothing
  was acquiring, emitted once.

The schedules a timelapse follows are in :mod:`bluesky_timelapse.schedules`.
"""

from ._backlog import HasBacklog, ingest_backlog
from ._runs import close_orphaned_run, install_commands, watch_runs
from ._status import TimelapseSummary, list_timelapses, timelapse_status
from ._stubs import seconds_until, wait_until
from ._timelapse import TimelapseOptions, resolve_plan, resume_timelapse, timelapse

__all__ = [
    "HasBacklog",
    "TimelapseOptions",
    "TimelapseSummary",
    "close_orphaned_run",
    "ingest_backlog",
    "install_commands",
    "list_timelapses",
    "resolve_plan",
    "resume_timelapse",
    "seconds_until",
    "timelapse",
    "timelapse_status",
    "wait_until",
    "watch_runs",
]
