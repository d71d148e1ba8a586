"""Run bookkeeping: watching runs, closing orphans, the start/stop hook (plans/_runs.py)."""

import bluesky.plan_stubs as bps
import pytest
from bluesky.plans import count
from bluesky.utils import Msg
from ophyd.sim import det

from bluesky_timelapse.plans import close_orphaned_run, install_commands, watch_runs
from support import only, validate


def test_watch_runs_reports_open_and_close_and_passes_the_plan_through(RE, documents):
    opened, closed = [], []
    result = RE(
        watch_runs(count([det], num=2), on_open=opened.append, on_close=lambda: closed.append(1))
    )
    (start,) = only(documents, "start")
    assert opened == [start["uid"]] and closed == [1]
    assert result.run_start_uids == (start["uid"],)


def test_watch_runs_forwards_errors_into_the_plan(RE):
    seen = []

    def plan():
        try:
            yield Msg("no_such_command")
        except KeyError as error:
            seen.append(type(error).__name__)
        yield from bps.null()
        return "recovered"

    assert RE(watch_runs(plan(), on_open=print, on_close=print)).plan_result == "recovered"
    assert seen == ["InvalidCommand"]


def test_close_orphaned_run_emits_a_valid_stop(RE, documents):
    install_commands(RE)
    install_commands(RE)  # idempotent
    RE(close_orphaned_run("3f2a9c1b-0000-4000-8000-000000000000", "the process died"))
    (stop,) = only(documents, "stop")
    assert stop["run_start"] == "3f2a9c1b-0000-4000-8000-000000000000"
    assert (stop["exit_status"], stop["reason"]) == ("abort", "the process died")
    validate(documents)


def test_without_the_command_the_runengine_refuses(RE):
    with pytest.raises(KeyError, match="timelapse_close_orphaned_run"):
        RE(close_orphaned_run("uid", "why"))
