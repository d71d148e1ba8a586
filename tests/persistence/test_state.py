"""The timelapse state and the state machine of its slots."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bluesky_timelapse.persistence import (
    FINAL_SLOT_STATUSES,
    SCHEMA_VERSION,
    SLOT_STATUSES,
    SLOT_TRANSITIONS,
    SlotRecord,
    SlotStatus,
    Suspension,
    TimelapseState,
    validate_timelapse_id,
)
from timelapse_states import ID, T0, at, new_state, run_slot

# -- the models ------------------------------------------------------------------


def test_new_state_defaults() -> None:
    state = TimelapseState(timelapse_id=ID, created=T0)
    assert state.version == SCHEMA_VERSION == 2
    assert state.updated == state.created == T0
    assert state.status == "running"
    assert state.plan == "count"
    assert (state.slots, state.suspensions, state.schedule) == ([], [], {})
    assert state.next_index == 0
    assert state.counts() == dict.fromkeys(SLOT_STATUSES, 0)


def test_datetimes_are_stored_in_utc_and_serialised_iso() -> None:
    paris = timezone(timedelta(hours=1))
    state = TimelapseState(timelapse_id=ID, created=datetime(2026, 11, 22, 9, tzinfo=paris))
    assert state.created == T0 and state.created.tzinfo is UTC
    assert json.loads(state.model_dump_json())["created"] == "2026-11-22T08:00:00Z"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        TimelapseState(timelapse_id=ID, created=datetime(2026, 11, 22, 8))


@pytest.mark.parametrize(
    "field, value",
    [
        ("md", {"sample": object()}),
        ("md", {"shape": (1, 2)}),
        ("plan_kwargs", {"delay": float("nan")}),
        ("options", {"grace": float("inf")}),
        ("schedule", {"nested": {"deep": [1.0, float("-inf")]}}),
    ],
)
def test_opaque_dicts_must_be_json(field: str, value: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=field):
        TimelapseState(timelapse_id=ID, **{field: value})  # type: ignore[arg-type]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="surprise"):
        TimelapseState(timelapse_id=ID, surprise=1)  # type: ignore[call-arg]


def test_slots_must_be_in_increasing_index_order() -> None:
    slots = [SlotRecord(index=2, scheduled=at(20)), SlotRecord(index=1, scheduled=at(10))]
    with pytest.raises(ValueError, match="slot 1 is listed after slot 2"):
        TimelapseState(timelapse_id=ID, slots=slots)


def test_only_the_last_suspension_may_be_open() -> None:
    suspensions = [Suspension(started=at(1), reason="a"), Suspension(started=at(2), reason="b")]
    with pytest.raises(ValueError, match="only the last suspension may be open"):
        TimelapseState(timelapse_id=ID, suspensions=suspensions)


def test_assignment_is_validated() -> None:
    state = new_state()
    with pytest.raises(ValueError):
        state.status = "paused"  # type: ignore[assignment]


def test_json_round_trip() -> None:
    state = new_state()
    run_slot(state, 0)
    state.mark_missed(1, at(10), lateness=900.0)
    state.mark_running(2, at(20), lateness=0.1, started=at(20))
    state.mark_run_uid(2, "uid-2")
    state.mark_interrupted(2, reason="power cut")
    state.begin_suspension("disk full", at(25))
    again = TimelapseState.model_validate_json(state.model_dump_json())
    assert again == state


@pytest.mark.parametrize("timelapse_id", ["a", "bench-7", "A_b.c-9", "2026.11.22", "x" * 100])
def test_valid_ids(timelapse_id: str) -> None:
    assert validate_timelapse_id(timelapse_id) == timelapse_id


@pytest.mark.parametrize(
    "timelapse_id",
    ["", ".hidden", "..", "../escape", "a/b", "a\\b", "x" * 101, "with space", "café", "a\0b", 7],
)
def test_invalid_ids(timelapse_id: str) -> None:
    with pytest.raises(ValueError, match=r"timelapse id .* is not allowed; allowed: 1 to 100"):
        validate_timelapse_id(timelapse_id)
    with pytest.raises(ValueError, match="timelapse_id"):
        TimelapseState(timelapse_id=timelapse_id)


# -- the state machine -------------------------------------------------------------


def drive(state: TimelapseState, index: int, status: SlotStatus, *, uid: bool = True) -> None:
    """Bring slot ``index`` to ``status`` by legal transitions."""
    scheduled = at(10 * index)
    if status == "pending":
        state.record(index, scheduled)
        return
    if status == "missed":
        attempt(state, index, status)
        return
    state.mark_running(index, scheduled, lateness=0.0, started=scheduled)
    if uid:
        state.mark_run_uid(index, f"uid-{index}")
    if status != "running":
        attempt(state, index, status)


def attempt(state: TimelapseState, index: int, status: SlotStatus) -> None:
    """Ask for the transition of slot ``index`` to ``status``."""
    scheduled, when = at(10 * index), at(10 * index + 1)
    if status == "running":
        state.mark_running(index, scheduled, lateness=0.0, started=when)
    elif status == "succeeded":
        state.mark_succeeded(index, finished=when)
    elif status == "failed":
        state.mark_failed(index, "camera timed out", finished=when)
    elif status == "missed":
        state.mark_missed(index, scheduled, lateness=3600.0)
    elif status == "interrupted":
        state.mark_interrupted(index, reason="session ended")
    else:
        state.record(index, scheduled)


ALL_TRANSITIONS = [(a, b) for a in SLOT_STATUSES for b in SLOT_STATUSES if b != "pending"]


@pytest.mark.parametrize("before, after", ALL_TRANSITIONS)
def test_every_transition_is_allowed_or_refused(before: SlotStatus, after: SlotStatus) -> None:
    state = new_state()
    drive(state, 3, before)
    snapshot = state.model_dump()
    if after in SLOT_TRANSITIONS[before]:
        attempt(state, 3, after)
        assert state.slot(3) is not None and state.slot(3).status == after  # type: ignore[union-attr]
    else:
        allowed = ", ".join(SLOT_TRANSITIONS[before]) or "nothing (final)"
        with pytest.raises(ValueError) as refused:
            attempt(state, 3, after)
        message = str(refused.value)
        assert f"slot 3 is {before!r}" in message
        assert f"cannot become {after!r}" in message
        assert f"allowed from {before!r}: {allowed}" in message
        assert state.model_dump() == snapshot  # a refused transition changes nothing


def test_transition_table() -> None:
    assert SLOT_TRANSITIONS["pending"] == ("running", "missed")
    assert SLOT_TRANSITIONS["running"] == ("succeeded", "failed", "interrupted")
    assert sorted(FINAL_SLOT_STATUSES) == [
        "failed",
        "interrupted",
        "missed",
        "succeeded",
    ]


def test_a_slot_is_never_acquired_twice() -> None:
    state = new_state()
    state.mark_running(0, at(0), lateness=0.0, started=at(0))
    with pytest.raises(ValueError, match="never acquired twice"):
        state.mark_running(0, at(0), lateness=0.0, started=at(0))
    state.mark_succeeded(0, finished=at(1))
    with pytest.raises(ValueError, match="never acquired twice"):
        state.mark_running(0, at(0), lateness=0.0, started=at(2))


def test_a_successful_slot() -> None:
    state = new_state()
    pending = state.record(0, at(0))
    assert pending.status == "pending" and state.record(0, at(0)) is pending
    running = state.mark_running(0, at(0), lateness=1.5, started=at(0.025))
    assert running is pending
    assert (running.status, running.lateness, running.started) == ("running", 1.5, at(0.025))
    state.mark_run_uid(0, "abc")
    state.mark_run_uid(0, "abc")  # the same uid again is harmless
    assert not running.stop_emitted  # the run is open
    state.mark_run_closed(0)
    done = state.mark_succeeded(0, finished=at(1))
    assert (done.status, done.run_uid, done.finished, done.error) == (
        "succeeded",
        "abc",
        at(1),
        None,
    )
    assert done.stop_emitted
    assert state.next_index == 1
    assert state.counts()["succeeded"] == 1


def test_failed_and_missed_keep_why() -> None:
    state = new_state()
    state.mark_running(0, at(0), lateness=0.0, started=at(0))
    assert state.mark_failed(0, "TimeoutError: cam", finished=at(1)).error == "TimeoutError: cam"
    missed = state.mark_missed(2, at(20), lateness=7200.0)
    assert (missed.status, missed.lateness, missed.started) == ("missed", 7200.0, None)


def test_run_uid_only_while_running_and_only_one() -> None:
    state = new_state()
    with pytest.raises(ValueError, match="slot 0 is 'pending'"):
        state.mark_run_uid(0, "abc")
    state.mark_running(0, at(0), lateness=0.0, started=at(0))
    state.mark_run_uid(0, "abc")
    with pytest.raises(ValueError, match="already has run uid 'abc', not 'xyz'"):
        state.mark_run_uid(0, "xyz")
    with pytest.raises(ValueError, match="non-empty string"):
        state.mark_run_uid(0, "")
    state.mark_succeeded(0, finished=at(1))
    with pytest.raises(ValueError, match="slot 0 is 'succeeded'"):
        state.mark_run_uid(0, "abc")


def test_interrupted_run_owes_its_stop_document() -> None:
    state = new_state()
    drive(state, 0, "running")
    interrupted = state.mark_interrupted(0, reason="killed")
    assert (interrupted.status, interrupted.error, interrupted.stop_emitted) == (
        "interrupted",
        "killed",
        False,
    )
    state.mark_stop_emitted(0)
    assert interrupted.stop_emitted and interrupted.status == "interrupted"


def test_interrupted_before_its_run_started_owes_nothing() -> None:
    state = new_state()
    drive(state, 0, "running", uid=False)
    assert state.mark_interrupted(0, reason="killed").stop_emitted


@pytest.mark.parametrize("status", ["pending", "running"])
def test_stop_emitted_only_for_final_slots(status: SlotStatus) -> None:
    state = new_state()
    drive(state, 0, status)
    with pytest.raises(ValueError, match=f"slot 0 is {status!r}"):
        state.mark_stop_emitted(0)


def test_stop_emitted_of_unrecorded_slot() -> None:
    with pytest.raises(ValueError, match="slot 4 is 'pending' \\(not recorded\\)"):
        new_state().mark_stop_emitted(4)


def test_a_slot_keeps_its_scheduled_time() -> None:
    state = new_state()
    state.record(0, at(0))
    with pytest.raises(ValueError, match="slot 0 is recorded as scheduled at"):
        state.mark_running(0, at(5), lateness=0.0, started=at(5))
    assert state.slot(0).status == "pending"  # type: ignore[union-attr]


@pytest.mark.parametrize("index", [-1, True, 1.5, "3", None])
def test_bad_slot_index(index: object) -> None:
    with pytest.raises(ValueError, match=r"slot index .* is not allowed; allowed: a whole number"):
        new_state().record(index, at(0))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.mark_running(0, datetime(2026, 1, 1), lateness=0.0, started=at(0)),
        lambda s: s.mark_running(0, at(0), lateness=0.0, started=datetime(2026, 1, 1)),
        lambda s: s.mark_running(0, at(0), lateness=float("nan"), started=at(0)),
        lambda s: s.mark_running(0, at(0), lateness="late", started=at(0)),
        lambda s: s.mark_missed(0, at(0), lateness=float("inf")),
        lambda s: s.mark_missed(0, "2026-01-01", lateness=1.0),
        lambda s: s.mark_interrupted(0, reason=None),
        lambda s: s.begin_suspension("why", datetime(2026, 1, 1)),
    ],
)
def test_bad_arguments_change_nothing(call: Callable[[TimelapseState], object]) -> None:
    state = new_state()
    with pytest.raises(ValueError, match="is not allowed; allowed"):
        call(state)
    assert state.slots == [] and state.suspensions == []


def test_records_are_kept_in_index_order() -> None:
    state = new_state()
    for index in (5, 1, 3, 0):
        state.record(index, at(10 * index))
    assert [record.index for record in state.slots] == [0, 1, 3, 5]
    assert state.slot(2) is None and state.slot(3) is not None


@pytest.mark.parametrize(
    "statuses, expected",
    [
        ({}, 0),
        ({0: "succeeded", 1: "failed", 2: "missed"}, 3),
        ({0: "succeeded", 1: "running"}, 1),
        ({0: "succeeded", 1: "interrupted", 2: "missed"}, 3),
        ({0: "succeeded", 1: "pending", 2: "succeeded"}, 1),
        ({0: "succeeded", 2: "succeeded"}, 1),  # slot 1 was never dealt with
        ({1: "succeeded"}, 0),
    ],
)
def test_next_index(statuses: dict[int, SlotStatus], expected: int) -> None:
    state = new_state()
    for index, status in statuses.items():
        drive(state, index, status)
    assert state.next_index == expected


def test_counts() -> None:
    state = new_state()
    for index, status in enumerate(["succeeded", "succeeded", "missed", "running"]):
        drive(state, index, status)  # type: ignore[arg-type]
    counts = state.counts()
    assert list(counts) == list(SLOT_STATUSES)
    assert counts == {
        "pending": 0,
        "running": 1,
        "succeeded": 2,
        "failed": 0,
        "missed": 1,
        "interrupted": 0,
    }


def test_suspensions() -> None:
    state = new_state()
    with pytest.raises(ValueError, match="no suspension is open"):
        state.end_suspension(at(1))
    opened = state.begin_suspension("low disk space", at(1))
    assert state.open_suspension is opened
    with pytest.raises(ValueError, match=r"'low disk space'.* is open since"):
        state.begin_suspension("camera stale", at(2))
    with pytest.raises(ValueError, match="before the suspension's start"):
        state.end_suspension(at(0))
    closed = state.end_suspension(at(3))
    assert (closed.started, closed.ended, closed.reason) == (at(1), at(3), "low disk space")
    assert state.open_suspension is None
    state.begin_suspension("camera stale", at(4))
    assert len(state.suspensions) == 2


def test_finish() -> None:
    state = new_state()
    drive(state, 0, "running")
    with pytest.raises(ValueError, match="slot 0 is still 'running'"):
        state.finish("completed")
    state.mark_interrupted(0, reason="stopped by user")
    state.begin_suspension("paused", at(2))
    with pytest.raises(ValueError, match="status 'paused' is not allowed; allowed: completed"):
        state.finish("paused")  # type: ignore[arg-type]
    state.finish("stopped", when=at(3))
    assert state.status == "stopped"
    assert state.suspensions[-1].ended == at(3)
    with pytest.raises(ValueError, match="is 'stopped'; cannot finish"):
        state.finish("completed")


def test_a_finished_timelapse_changes_no_more() -> None:
    state = new_state()
    drive(state, 0, "running")
    state.mark_interrupted(0, reason="stop")
    state.finish("completed")
    for call in (
        lambda: state.mark_running(1, at(10), lateness=0.0, started=at(10)),
        lambda: state.mark_missed(1, at(10), lateness=5.0),
        lambda: state.record(1, at(10)),
        lambda: state.begin_suspension("x", at(11)),
    ):
        with pytest.raises(ValueError, match="'bench-7' is 'completed'"):
            call()
    state.mark_stop_emitted(0)  # a stop document owed can still be recorded as emitted
    assert state.slot(0).stop_emitted  # type: ignore[union-attr]
    assert state.record(0, at(0)).status == "interrupted"  # looking up is fine
