"""The timelapse plan in a real RunEngine with SimCamera (plans/_timelapse.py)."""

import shutil
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from bluesky.suspenders import SuspendBoolHigh
from bluesky.utils import RunEngineInterrupted
from ophyd import Signal

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.persistence import TimelapseStore
from bluesky_timelapse.plans import (
    install_commands,
    list_timelapses,
    resume_timelapse,
    timelapse,
    timelapse_status,
)
from bluesky_timelapse.schedules import at, every
from bluesky_timelapse.suspenders import SuspendLowDiskSpace
from support import FlakyCamera, install_distribution, only, validate


@pytest.fixture
def camera(tmp_path):
    return SimCamera(
        name="cam", root=str(tmp_path), write_path_template="frames", writer="npy", shape=(8, 8)
    )


@pytest.fixture
def store_dir(tmp_path):
    return str(tmp_path / "store")


def soon(seconds=0.3):
    return datetime.now(UTC) + timedelta(seconds=seconds)


def nonzero(counts):
    return {status: n for status, n in counts.items() if n}


def starts(documents):
    return only(documents, "start")


def test_twenty_slots_make_twenty_runs_with_slot_metadata(RE, documents, camera, store_dir):
    schedule = every(0.2, count=20, start=soon())
    (timelapse_id,) = [
        RE(
            timelapse([camera], schedule.to_dict(), store=store_dir, md={"sample": "basil"})
        ).plan_result
    ]

    validate(documents)
    runs = starts(documents)
    assert [run["slot_index"] for run in runs] == list(range(20))
    assert {run["timelapse_id"] for run in runs} == {timelapse_id}
    assert all(run["sample"] == "basil" for run in runs)
    slots = list(schedule.slots())
    events = only(documents, "event")
    for run, event, slot in zip(runs, events, slots, strict=True):
        assert run["scheduled_time"] == slot.time.isoformat()
        assert run["scheduled_timestamp"] == slot.time.timestamp()
        assert run["lateness"] >= 0
        # opened up to ``lead`` (0.5 s) early; the frame is taken at the slot's time
        assert slot.time.timestamp() - 0.5 <= run["time"] <= event["time"]
        assert event["time"] >= slot.time.timestamp()
    assert [stop["exit_status"] for stop in only(documents, "stop")] == ["success"] * 20
    assert len(only(documents, "event")) == 20

    state = TimelapseStore(store_dir).load(timelapse_id)
    assert state.status == "completed"
    assert nonzero(state.counts()) == {"succeeded": 20}
    assert [record.run_uid for record in state.slots] == [run["uid"] for run in runs]
    lateness = sorted(run["lateness"] for run in runs)
    print(f"lateness p50 {lateness[10] * 1e3:.1f} ms, max {lateness[-1] * 1e3:.1f} ms")


@pytest.mark.parametrize("lead", [0, 0.15])
def test_a_slot_opens_lead_seconds_early_and_triggers_on_time(
    RE, documents, camera, store_dir, lead
):
    schedule = every(0.4, count=3, start=soon())
    RE(timelapse([camera], schedule.to_dict(), lead=lead, store=store_dir))

    times = [slot.time.timestamp() for slot in schedule.slots()]
    runs, events = starts(documents), only(documents, "event")
    assert all(run["time"] >= due - lead for run, due in zip(runs, times, strict=True))
    if lead:  # opened ahead: the time before the trigger is spent waiting, in the run
        assert all(run["time"] < due for run, due in zip(runs, times, strict=True))
    assert all(event["time"] >= due for event, due in zip(events, times, strict=True))


def test_the_plan_returns_its_id_and_a_given_id_is_used(RE, camera, store_dir):
    result = RE(
        timelapse([camera], every(0.1, count=1).to_json(), timelapse_id="basil-1", store=store_dir)
    )
    assert result.plan_result == "basil-1"
    assert nonzero(timelapse_status("basil-1", store_dir).counts) == {"succeeded": 1}


def test_an_existing_id_is_refused(RE, camera, store_dir):
    RE(timelapse([camera], every(0.1, count=1).to_dict(), timelapse_id="basil", store=store_dir))
    with pytest.raises(FileExistsError, match="basil"):
        RE(
            timelapse(
                [camera], every(0.1, count=1).to_dict(), timelapse_id="basil", store=store_dir
            )
        )


@pytest.mark.parametrize(
    ("missed", "statuses", "ran"),
    [
        ("skip", ["missed", "missed", "succeeded"], [2]),
        ("catch_up", ["missed", "succeeded", "succeeded"], [1, 2]),
        ("run_all", ["succeeded", "succeeded", "succeeded"], [0, 1, 2]),
    ],
)
def test_missed_slot_policies(RE, documents, camera, store_dir, missed, statuses, ran):
    now = datetime.now(UTC)
    schedule = at(
        now - timedelta(seconds=20), now - timedelta(seconds=10), now + timedelta(seconds=0.5)
    )
    timelapse_id = RE(
        timelapse([camera], schedule.to_dict(), grace=2.0, missed=missed, store=store_dir)
    ).plan_result
    assert [run["slot_index"] for run in starts(documents)] == ran
    state = TimelapseStore(store_dir).load(timelapse_id)
    assert [record.status for record in state.slots] == statuses
    late = [run["lateness"] for run in starts(documents) if run["slot_index"] < 2]
    assert all(lateness > 2.0 for lateness in late)


def test_an_all_past_schedule_is_refused_under_skip_before_anything_is_recorded(
    RE, camera, store_dir
):
    past = at(datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(
        ValueError, match=r"schedule: every slot is past .* allowed: a schedule with slots to come"
    ):
        RE(timelapse([camera], past.to_dict(), store=store_dir))
    assert TimelapseStore(store_dir).list() == []


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"missed": "later"}, "missed 'later' is not allowed; allowed: skip, catch_up, run_all"),
        ({"on_failure": "panic"}, "on_failure 'panic' is not allowed; allowed: continue, stop"),
        ({"grace": -1}, "grace -1 is invalid; allowed: a finite number of seconds >= 0"),
        ({"lead": -0.5}, "lead -0.5 is invalid; allowed: a finite number of seconds >= 0"),
        ({"plan": "no_such_plan"}, "plan 'no_such_plan' is not a known plan; allowed: "),
        ({"warmup_plan": "nope"}, "warmup_plan 'nope' is not a known plan"),
    ],
)
def test_bad_options_are_refused_before_anything_is_recorded(
    RE, camera, store_dir, option, message
):
    with pytest.raises(ValueError, match=message):
        RE(timelapse([camera], every(1, count=2).to_dict(), store=store_dir, **option))
    assert TimelapseStore(store_dir).list() == []


def flaky(tmp_path, fail_on):
    return FlakyCamera(
        name="cam",
        root=str(tmp_path),
        write_path_template=".",
        writer="npy",
        shape=(8, 8),
        fail_on=fail_on,
    )


def test_a_failed_slot_is_recorded_and_the_timelapse_goes_on(RE, documents, tmp_path, store_dir):
    timelapse_id = RE(
        timelapse(
            [flaky(tmp_path, {2})], every(0.1, count=3, start=soon()).to_dict(), store=store_dir
        )
    ).plan_result
    state = TimelapseStore(store_dir).load(timelapse_id)
    assert [record.status for record in state.slots] == ["succeeded", "failed", "succeeded"]
    assert state.slots[1].error == "RuntimeError: sensor timeout on trigger 2"
    assert state.status == "completed"
    assert [stop["exit_status"] for stop in only(documents, "stop")] == [
        "success",
        "fail",
        "success",
    ]


def test_on_failure_stop_ends_the_timelapse(RE, tmp_path, store_dir):
    with pytest.raises(RuntimeError, match="sensor timeout on trigger 2"):
        RE(
            timelapse(
                [flaky(tmp_path, {2})],
                every(0.1, count=3, start=soon()).to_dict(),
                on_failure="stop",
                timelapse_id="t",
                store=store_dir,
            )
        )
    state = TimelapseStore(store_dir).load("t")
    assert [record.status for record in state.slots] == ["succeeded", "failed"]
    assert state.status == "failed"


def test_a_suspension_during_a_wait_does_not_push_the_next_slot(RE, documents, camera, store_dir):
    signal = Signal(name="door_open", value=0)
    RE.install_suspender(SuspendBoolHigh(signal, sleep=0))
    start = soon(0.2)
    schedule = every(1.5, count=3, start=start)
    threading.Timer(0.6, signal.put, [1]).start()  # during the wait for slot 1
    threading.Timer(1.2, signal.put, [0]).start()
    RE(timelapse([camera], schedule.to_dict(), store=store_dir))
    runs = starts(documents)
    assert [run["slot_index"] for run in runs] == [0, 1, 2]
    lateness = [run["lateness"] for run in runs]
    print("lateness after a 0.6 s suspension (ms):", [round(x * 1e3, 1) for x in lateness])
    # bluesky's sleep would have replayed the whole wait (about 1 s) after the suspension.
    assert lateness[1] < 0.5


def test_a_pause_resumes_without_drift(RE, documents, camera, store_dir):
    schedule = every(1.0, count=3, start=soon(0.2))
    threading.Timer(0.5, RE.request_pause, kwargs={"defer": False}).start()
    with pytest.raises(RunEngineInterrupted):
        RE(timelapse([camera], schedule.to_dict(), timelapse_id="paused", store=store_dir))
    time.sleep(0.2)  # stay paused a while: the wait must not grow by it
    RE.resume()
    runs = starts(documents)
    assert [run["slot_index"] for run in runs] == [0, 1, 2]
    assert runs[1]["lateness"] < 0.5
    assert TimelapseStore(store_dir).load("paused").status == "completed"


def test_stop_then_resume_continues_at_the_next_slot(RE, documents, camera, store_dir):
    schedule = every(0.5, count=4, start=soon(0.2))

    def plan():
        yield from timelapse([camera], schedule.to_dict(), timelapse_id="tl", store=store_dir)

    threading.Timer(0.9, RE.request_pause, kwargs={"defer": True}).start()
    with pytest.raises(RunEngineInterrupted):
        RE(plan())
    RE.stop()
    state = TimelapseStore(store_dir).load("tl")
    assert state.status == "stopped"
    done = [record.index for record in state.slots if record.status == "succeeded"]
    assert done
    RE(resume_timelapse("tl", [camera], store=store_dir, missed="run_all"))
    slot_indices = [run["slot_index"] for run in starts(documents)]
    assert sorted(slot_indices) == slot_indices
    assert len(set(slot_indices)) == len(slot_indices)  # no slot acquired twice
    state = TimelapseStore(store_dir).load("tl")
    assert state.status == "completed"
    assert {record.status for record in state.slots} <= {"succeeded", "interrupted"}
    assert [record.index for record in state.slots] == [0, 1, 2, 3]


def test_resume_refuses_other_detectors(RE, camera, tmp_path, store_dir):
    RE(timelapse([camera], every(0.1, count=1).to_dict(), timelapse_id="tl", store=store_dir))
    other = SimCamera(name="other", root=str(tmp_path), write_path_template=".")
    with pytest.raises(ValueError, match=r"detectors \['other'\] differ .* \(\['cam'\]\)"):
        RE(resume_timelapse("tl", [other], store=store_dir))


def test_resume_closes_the_run_a_dead_process_left_open(RE, documents, camera, store_dir):
    store = TimelapseStore(store_dir)
    orphan = two_slots_then_orphan_slot_one(RE, camera, store)
    documents.clear()
    install_commands(RE)
    RE(resume_timelapse("tl", [camera], store=store_dir))
    (stop,) = only(documents, "stop")
    assert stop["run_start"] == orphan
    assert stop["exit_status"] == "abort"
    assert "ended during slot 1" in stop["reason"]
    validate(documents)
    state = store.load("tl")
    assert state.slots[1].status == "interrupted"
    assert state.slots[1].stop_emitted


@pytest.fixture
def hook_plans(tmp_path, monkeypatch):
    """Warm-up and standby plans installed as entry points, logging their calls."""
    install_distribution(
        tmp_path / "site",
        "rig_hooks",
        {
            "bluesky_timelapse.plans": {
                "lights_on": "rig_hooks:lights_on",
                "lights_off": "rig_hooks:lights_off",
            }
        },
        {
            "rig_hooks": (
                "import time\n"
                "import bluesky.plan_stubs as bps\n"
                "CALLS = []\n"
                "def lights_on(detectors):\n"
                "    CALLS.append(('on', time.time()))\n"
                "    yield from bps.null()\n"
                "def lights_off(detectors):\n"
                "    CALLS.append(('off', time.time()))\n"
                "    yield from bps.null()\n"
            )
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    import rig_hooks

    rig_hooks.CALLS.clear()
    return rig_hooks.CALLS


def test_warmup_before_the_first_slot_and_after_each_standby(
    RE, documents, camera, store_dir, hook_plans
):
    start = datetime.now(UTC) + timedelta(seconds=0.6)
    gaps = [0.0, 0.2, 1.4, 1.6]  # a long gap between slot 1 and slot 2
    schedule = at(*(start + timedelta(seconds=g) for g in gaps))
    RE(
        timelapse(
            [camera],
            schedule.to_dict(),
            warmup=0.3,
            warmup_plan="lights_on",
            standby_threshold=0.8,
            standby_plan="lights_off",
            store=store_dir,
        )
    )
    run_times = [run["time"] for run in starts(documents)]
    frame_times = [event["time"] for event in only(documents, "event")]
    assert [call for call, _ in hook_plans] == ["on", "off", "on"]
    first_on, off, second_on = (when for _, when in hook_plans)
    assert first_on < run_times[0] and frame_times[0] - first_on >= 0.3  # warm-up ahead
    assert run_times[1] < off < second_on < run_times[2]
    assert frame_times[2] - second_on >= 0.3  # warm-up ahead of slot 2 again


def test_suspensions_are_recorded_in_the_store_and_shown_by_status(
    RE, camera, store_dir, tmp_path
):
    free = {"bytes": 10**6}

    def usage(path):
        return shutil._ntuple_diskusage(
            total=10**9, used=10**9 - free["bytes"], free=free["bytes"]
        )

    suspender = SuspendLowDiskSpace(tmp_path, min_free=5 * 10**5, usage=usage, poll_interval=0.05)
    RE.install_suspender(suspender)
    schedule = every(0.5, count=3, start=soon(0.2))
    threading.Timer(0.4, free.update, kwargs={"bytes": 10**5}).start()
    threading.Timer(0.9, free.update, kwargs={"bytes": 10**6}).start()
    try:
        RE(timelapse([camera], schedule.to_dict(), timelapse_id="held", store=store_dir))
    finally:
        RE.remove_suspender(suspender)
    state = TimelapseStore(store_dir).load("held")
    (suspension,) = state.suspensions
    assert "free space on" in suspension.reason and "below the" in suspension.reason
    assert suspension.ended is not None and suspension.ended > suspension.started
    summary = timelapse_status("held", store_dir)
    assert summary.suspensions == 1 and summary.suspended is None
    assert nonzero(summary.counts) == {"succeeded": 3}


def test_status_reports_progress_and_the_next_slot(RE, camera, store_dir):
    schedule = every(3600, count=5, start=soon(0.2))
    threading.Timer(1.0, RE.request_pause, kwargs={"defer": True}).start()
    with pytest.raises(RunEngineInterrupted):
        RE(timelapse([camera], schedule.to_dict(), timelapse_id="hourly", store=store_dir))
    summary = timelapse_status("hourly", store_dir)
    assert summary.status == "running"
    assert summary.total == 5
    assert nonzero(summary.counts) == {"succeeded": 1}
    assert summary.next_slot == list(schedule.slots())[1].time
    assert [s.timelapse_id for s in list_timelapses(store_dir)] == ["hourly"]
    RE.abort()


def two_slots_then_orphan_slot_one(RE, camera, store, timelapse_id="tl"):
    """Run two slots, then leave slot 1 as a SIGKILL during it would: running, its run open."""
    schedule = every(0.2, count=2, start=soon(0.1)).to_dict()
    RE(timelapse([camera], schedule, timelapse_id=timelapse_id, store=str(store.directory)))
    state = store.load(timelapse_id)
    state.slots[1].status = "running"
    state.slots[1].stop_emitted = False
    state.status = "running"
    store.save(state)
    return state.slots[1].run_uid


def test_without_install_commands_the_stop_stays_owed_and_is_said(
    RE, documents, camera, store_dir, caplog
):
    store = TimelapseStore(store_dir)
    orphan = two_slots_then_orphan_slot_one(RE, camera, store)
    documents.clear()
    with caplog.at_level("WARNING"):
        RE(resume_timelapse("tl", [camera], store=store_dir))
    assert f"cannot emit the stop document of run {orphan}" in caplog.text
    assert "install_commands(RE)" in caplog.text
    assert only(documents, "stop") == []
    assert not store.load("tl").slots[1].stop_emitted  # a later session can still close it
    install_commands(RE)
    RE(resume_timelapse("tl", [camera], store=store_dir))
    assert [stop["run_start"] for stop in only(documents, "stop")] == [orphan]


def test_halt_during_a_slot_closes_its_run_once(RE, documents, tmp_path, store_dir):
    install_commands(RE)
    slow = SimCamera(
        name="cam",
        root=str(tmp_path),
        write_path_template=".",
        writer="npy",
        shape=(8, 8),
        exposure=1.0,
    )
    schedule = every(0.5, count=3, start=soon(0.1))
    threading.Timer(
        0.4, RE.request_pause, kwargs={"defer": False}
    ).start()  # during slot 0's exposure
    with pytest.raises(RunEngineInterrupted):
        RE(timelapse([slow], schedule.to_dict(), timelapse_id="halted", store=store_dir))
    RE.halt()
    (stop,) = only(documents, "stop")  # the RunEngine closed the run on halt
    assert stop["exit_status"] == "abort"
    state = TimelapseStore(store_dir).load("halted")
    assert state.slots[0].status == "interrupted"
    assert state.slots[0].stop_emitted
    RE(resume_timelapse("halted", [slow], store=store_dir, missed="run_all"))
    stops = Counter(stop["run_start"] for stop in only(documents, "stop"))
    assert set(stops.values()) == {1}  # no run got two stop documents
    assert TimelapseStore(store_dir).load("halted").status == "completed"


def test_overlapping_suspensions_are_recorded_as_one_span(RE, camera, store_dir, tmp_path):
    disks = {"a": 10**6, "b": 10**6}

    def usage_of(name):
        def usage(path):
            free = disks[name]
            return shutil._ntuple_diskusage(total=10**9, used=10**9 - free, free=free)

        return usage

    suspenders = [
        SuspendLowDiskSpace(tmp_path, min_free=5 * 10**5, usage=usage_of(name), poll_interval=0.05)
        for name in ("a", "b")
    ]
    for suspender in suspenders:
        RE.install_suspender(suspender)
    threading.Timer(0.4, disks.update, kwargs={"a": 10}).start()
    threading.Timer(0.6, disks.update, kwargs={"b": 10}).start()
    threading.Timer(0.8, disks.update, kwargs={"a": 10**6}).start()
    threading.Timer(1.1, disks.update, kwargs={"b": 10**6}).start()
    try:
        RE(
            timelapse(
                [camera],
                every(0.5, count=3, start=soon(0.2)).to_dict(),
                timelapse_id="two",
                store=store_dir,
            )
        )
    finally:
        for suspender in suspenders:
            RE.remove_suspender(suspender)
    suspensions = TimelapseStore(store_dir).load("two").suspensions
    assert all(s.ended is not None for s in suspensions)
    assert "; " in suspensions[-1].reason  # both reasons while both held the plan
    held = (suspensions[-1].ended - suspensions[0].started).total_seconds()
    assert held >= 0.5  # from the first trip to the last recovery
