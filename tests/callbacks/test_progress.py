"""TimelapseProgress with a real RunEngine, SimCamera and tqdm (callbacks/_progress.py)."""

import io
import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from bluesky.utils import RunEngineInterrupted
from tqdm import tqdm

from bluesky_timelapse.callbacks import TimelapseProgress
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.plans import resume_timelapse, timelapse
from bluesky_timelapse.schedules import every
from bluesky_timelapse.suspenders import SuspensionLog


@pytest.fixture
def camera(tmp_path):
    return SimCamera(
        name="cam", root=str(tmp_path), write_path_template="frames", writer="npy", shape=(8, 8)
    )


@pytest.fixture
def log():
    return SuspensionLog()


@pytest.fixture
def output():
    return io.StringIO()


@pytest.fixture
def progress(log, output):
    display = TimelapseProgress(suspensions=log, bar=partial(tqdm, file=output, mininterval=0))
    yield display
    display.close()


def soon(seconds=0.3):
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_counts_every_slot_and_says_done(RE, camera, tmp_path, progress, output):
    RE.subscribe(progress)
    schedule = every(0.2, count=3, start=soon())
    timelapse_id = RE(
        timelapse([camera], schedule.to_dict(), store=str(tmp_path / "s"))
    ).plan_result
    assert progress.timelapse_id == timelapse_id
    assert (progress.reached, progress.total) == (3, 3)
    assert progress.postfix == "done"
    text = output.getvalue()
    assert timelapse_id in text and "3/3" in text
    assert "next slot 1 at" in text  # said between the slots


def test_an_unbounded_schedule_has_no_total(RE, camera, tmp_path, progress):
    RE.subscribe(progress)
    # Stop after two slots through a stop condition: a bounded window of the same grid.
    start = soon()
    schedule = every(0.2, start=start, until=start + timedelta(seconds=0.3))
    RE(timelapse([camera], schedule.to_dict(), store=str(tmp_path / "s")))
    assert progress.reached == 2
    assert progress.total == 2
    unbounded = every(0.2, start=start)
    progress(
        "start",
        {
            "uid": "r1",
            "time": 0.0,
            "timelapse_id": "forever",
            "slot_index": 0,
            "timelapse_schedule": unbounded.to_dict(),
        },
    )
    assert (progress.timelapse_id, progress.total, progress.reached) == ("forever", None, 0)
    assert progress.postfix == "slot 0: acquiring"
    progress("stop", {"uid": "s1", "time": 0.0, "run_start": "r1", "exit_status": "success"})
    assert progress.reached == 1
    assert progress.postfix.startswith("next slot 1 at ")


def test_a_resumed_timelapse_starts_where_it_was(RE, camera, tmp_path, progress):
    store = str(tmp_path / "s")
    schedule = every(0.5, count=4, start=soon())
    first = TimelapseProgress(suspensions=None, bar=partial(tqdm, disable=True))
    token = RE.subscribe(first)

    def pause_after_two(name, doc):
        if first.reached == 2:
            threading.Thread(target=RE.request_pause, kwargs={"defer": True}).start()

    pause_token = RE.subscribe(pause_after_two, "stop")
    with pytest.raises(RunEngineInterrupted):
        RE(timelapse([camera], schedule.to_dict(), store=store, timelapse_id="tl-1"))
    RE.stop()
    RE.unsubscribe(token)
    RE.unsubscribe(pause_token)
    assert first.reached == 2

    positions = []
    RE.subscribe(progress)
    RE.subscribe(lambda name, doc: positions.append(progress.reached), "start")
    RE(resume_timelapse("tl-1", [camera], store=store))
    assert positions == [2, 3]  # each slot's start: the slots before it were reached
    assert (progress.timelapse_id, progress.reached, progress.total) == ("tl-1", 4, 4)


def test_shows_a_suspension_and_its_end(progress, log):
    log.emit("suspended", "free space 10 MB is below 1 GB")
    assert progress.postfix == "suspended: free space 10 MB is below 1 GB"
    log.emit("resumed", "free space is back")
    assert progress.postfix == ""


def test_ignores_runs_that_are_not_slots(RE, progress):
    from bluesky.plans import count
    from ophyd.sim import det

    RE(count([det]))
    assert (progress.timelapse_id, progress.reached) == (None, 0)


def test_close_stops_listening_to_suspensions(log, output):
    display = TimelapseProgress(suspensions=log, bar=partial(tqdm, file=output))
    display.close()
    log.emit("suspended", "late")
    assert display.postfix == ""
