"""SIGKILL a timelapse at several points, resume it each time, and check nothing doubled."""

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import h5py
import pytest

from bluesky_timelapse.persistence import TimelapseStore
from support import validate

RUNNER = Path(__file__).with_name("timelapse_process.py")
SLOTS = 10


class Session:
    """One process running the timelapse, read line by line."""

    def __init__(self, tmp_path: Path, *, resume: bool):
        arguments = [
            sys.executable,
            str(RUNNER),
            "--store", str(tmp_path / "store"),
            "--data", str(tmp_path / "data"),
            "--journal", str(tmp_path / "journal.jsonl"),
            "--id", "crash-test",
            "--slots", str(SLOTS),
            "--grace", "5",
        ]  # fmt: skip
        if resume:
            arguments.append("--resume")
        self.process = subprocess.Popen(arguments, stdout=subprocess.PIPE, text=True)

    def kill_at(self, marker: str, delay: float = 0.0) -> bool:
        """SIGKILL at the first line starting with ``marker`` (plus ``delay`` seconds).

        Returns False if the timelapse finished first (nothing left to kill).
        """
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(marker):
                time.sleep(delay)
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(timeout=30)
                return True
        assert self.process.wait() == 0
        return False

    def finish(self) -> None:
        out, _ = self.process.communicate(timeout=120)
        assert self.process.returncode == 0
        assert out.strip().endswith("DONE")


def read_journal(path: Path) -> list[tuple[str, dict]]:
    documents = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # the line the kill cut short
            continue
        documents.append((entry["name"], entry["doc"]))
    return documents


@pytest.mark.timeout(240)
def test_killed_mid_slot_and_mid_wait_then_resumed_acquires_each_slot_once(tmp_path):
    store = TimelapseStore(tmp_path / "store")
    kills = [
        ("START 1", 0.15),
        ("STOP 3", 0.3),
        ("START 5", 0.0),
    ]  # in a run, in a wait, at a start
    first = True
    for marker, delay in kills:
        Session(tmp_path, resume=not first).kill_at(marker, delay)
        first = False
        state = store.load("crash-test")  # loads after every kill
        assert state.status == "running"
    Session(tmp_path, resume=True).finish()

    state = store.load("crash-test")
    assert state.status == "completed"
    assert [record.index for record in state.slots] == list(range(SLOTS))
    statuses = Counter(record.status for record in state.slots)
    assert set(statuses) <= {"succeeded", "interrupted", "missed"}
    assert statuses["interrupted"] >= 1
    assert all(record.stop_emitted for record in state.slots)

    documents = read_journal(tmp_path / "journal.jsonl")
    starts = [doc for name, doc in documents if name == "start"]
    stops = [doc for name, doc in documents if name == "stop"]
    validate(documents)
    slot_of_run = {start["uid"]: start["slot_index"] for start in starts}
    # No slot acquired twice: one run at most per slot, and each run has exactly one stop.
    assert len(set(slot_of_run.values())) == len(starts)
    assert Counter(stop["run_start"] for stop in stops) == Counter(list(slot_of_run))
    for record in state.slots:
        if record.status == "succeeded":
            assert slot_of_run[record.run_uid] == record.index
            (stop,) = [s for s in stops if s["run_start"] == record.run_uid]
            assert stop["exit_status"] == "success"
        elif record.run_uid is not None:  # interrupted with its run opened: closed on resume
            (stop,) = [s for s in stops if s["run_start"] == record.run_uid]
            assert stop["exit_status"] == "abort"
            assert "closed on resume" in stop["reason"]
    # Every succeeded slot's frame is on disk and readable; interrupted slots may
    # have left a half-made file behind, which no document points at as complete.
    resources = {doc["run_start"]: doc for name, doc in documents if name == "resource"}
    for record in state.slots:
        if record.status == "succeeded":
            resource = resources[record.run_uid]
            path = Path(resource["root"], resource["resource_path"])
            with h5py.File(path, "r") as file:
                assert file["/entry/data/data"].shape == (1, 16, 16)
    print(f"slots: {dict(statuses)}; runs {len(starts)}")
