"""The chaos harness: a rig under seeded SIGKILLs, Tiled outages and torn files.

:func:`run_soak` runs ``rig.py`` (a timelapse of a SimCamera into an embedded Tiled
server through a TiledSink) and, at seeded random moments, SIGKILLs it and starts
it again (it resumes the timelapse), stops the Tiled server for a while and starts
it again on the same port, and, while the rig is down, tears the tail of the
newest journal file and of the timelapse's state file (a half-written line, as a
power cut leaves it). When the timelapse is done it checks what must hold and
returns a :class:`SoakReport`, whose :meth:`~SoakReport.table` is printed by the
test session.

Run the long profile with ``tox -e soak`` (or ``SOAK_PROFILE=long pytest -m soak``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import tifffile

from bluesky_timelapse.persistence import TimelapseStore
from bluesky_timelapse.tiled import LocalTiled

RIG = Path(__file__).with_name("rig.py")


@dataclass(frozen=True)
class Profile:
    """How hard to shake: slots, their interval, kills and outages, the seed."""

    name: str
    slots: int
    interval: float
    kills: int
    outages: int
    disk_full: int
    outage_seconds: tuple[float, float] = (1.0, 3.0)
    disk_full_seconds: tuple[float, float] = (0.6, 1.5)
    seed: int = 20261122


PROFILES = {
    "short": Profile("short", slots=90, interval=0.5, kills=10, outages=2, disk_full=2),
    "long": Profile("long", slots=1200, interval=0.5, kills=100, outages=20, disk_full=20),
}


@dataclass
class SoakReport:
    """What happened and what was found at the end."""

    profile: Profile
    seconds: float = 0.0
    slots: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    outages: int = 0
    disk_full: int = 0
    torn_journals: int = 0
    torn_stores: int = 0
    store_loads: int = 0
    store_loads_ok: int = 0
    runs_in_tiled: int = 0
    duplicates: int = 0
    runs_without_stop: int = 0
    frames_on_disk: int = 0
    unreadable_frame_files: int = 0
    frames_in_tiled: int = 0
    frames_of_succeeded_slots_missing: int = 0
    recorded_runs_not_in_tiled: int = 0
    runs_of_slots_not_acquired: int = 0
    folder_files_dropped: int = 0
    folder_frames_in_tiled: int = 0
    folder_frames_wrong: int = 0

    def table(self) -> str:
        """The soak table, one quantity a line."""
        rows = [
            ("profile", f"{self.profile.name} (seed {self.profile.seed})"),
            ("wall time", f"{self.seconds:.0f} s"),
            ("slots scheduled", self.profile.slots),
            *((f"slots {status}", self.slots[status]) for status in STATUSES),
            ("kills survived", self.kills),
            ("Tiled outages survived", self.outages),
            ("disk-full episodes survived (ENOSPC)", self.disk_full),
            ("journal tails torn", self.torn_journals),
            ("store tails torn", self.torn_stores),
            ("store loads OK", f"{self.store_loads_ok}/{self.store_loads}"),
            ("runs in Tiled", self.runs_in_tiled),
            ("duplicates (must be 0)", self.duplicates),
            ("runs without stop (must be 0)", self.runs_without_stop),
            ("runs the store names, not in Tiled (must be 0)", self.recorded_runs_not_in_tiled),
            ("runs in Tiled of slots not acquired (must be 0)", self.runs_of_slots_not_acquired),
            ("frames on disk", self.frames_on_disk),
            ("frame files cut short by a kill", self.unreadable_frame_files),
            ("frames in Tiled", self.frames_in_tiled),
            (
                "frames of succeeded slots not in Tiled (must be 0)",
                self.frames_of_succeeded_slots_missing,
            ),
            ("FolderCamera: files dropped", self.folder_files_dropped),
            ("FolderCamera: frames in Tiled", self.folder_frames_in_tiled),
            ("FolderCamera: frames unlike their file (must be 0)", self.folder_frames_wrong),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


STATUSES = ("succeeded", "missed", "interrupted", "failed")


class Rig:
    """The rig process, restartable; its output lines are counted on a thread."""

    def __init__(self, data: Path, server: LocalTiled, profile: Profile, timelapse_id: str):
        self.arguments = [
            sys.executable, str(RIG),
            "--data", str(data),
            "--folder", str(data / "dropped"),
            "--disk-full", str(data / "disk-full"),
            "--tiled", server.uri,
            "--id", timelapse_id,
            "--slots", str(profile.slots),
            "--interval", str(profile.interval),
        ]  # fmt: skip
        self.environment = {**os.environ, "TILED_API_KEY": server.api_key}
        self.process: subprocess.Popen[str] | None = None
        self.stops = 0
        self.done = threading.Event()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.arguments, stdout=subprocess.PIPE, text=True, env=self.environment
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("STOP"):
                self.stops += 1
            elif line.startswith("DONE"):
                self.done.set()


def run_soak(directory: Path, profile: Profile) -> SoakReport:
    """Run the timelapse of ``profile`` under chaos in ``directory``; check it afterwards."""
    chance = random.Random(profile.seed)
    report = SoakReport(profile)
    data = directory / "rig"
    server = LocalTiled(directory / "tiled", readable_storage=[data / "frames", data / "dropped"])
    server.start()
    began = time.monotonic()
    rig = Rig(data, server, profile, "soak")
    dropping = threading.Event()
    feeder = threading.Thread(target=_drop_files, args=(data / "dropped", dropping, report))
    try:
        feeder.start()
        rig.start()
        nominal = profile.slots * profile.interval
        events = sorted(
            [(chance.uniform(0.05, 0.9) * nominal, "kill") for _ in range(profile.kills)]
            + [(chance.uniform(0.05, 0.9) * nominal, "outage") for _ in range(profile.outages)]
            + [(chance.uniform(0.05, 0.9) * nominal, "full") for _ in range(profile.disk_full)]
        )
        for at, what in events:
            time.sleep(max(0.0, began + at - time.monotonic()))
            if rig.done.is_set():
                break
            if what == "kill":
                rig.kill()
                report.kills += 1
                if chance.random() < 0.5:
                    report.torn_journals += _tear_newest(data / "journal", chance)
                if chance.random() < 0.3:
                    report.torn_stores += _tear_newest(data / "timelapses", chance)
                report.store_loads += 1
                report.store_loads_ok += _loads(data, "soak")
                rig.start()
            elif what == "full":
                (data / "disk-full").touch()
                time.sleep(chance.uniform(*profile.disk_full_seconds))
                (data / "disk-full").unlink()
                report.disk_full += 1
            else:
                server.stop()
                time.sleep(chance.uniform(*profile.outage_seconds))
                server.start()
                report.outages += 1
        if not rig.done.wait(timeout=nominal + 300):
            raise TimeoutError(f"the rig did not finish within {nominal + 300:.0f} s")
        assert rig.process is not None
        assert rig.process.wait(timeout=30) == 0
        report.seconds = time.monotonic() - began
        report.store_loads += 1
        report.store_loads_ok += _loads(data, "soak")
        _check(report, data, server)
    finally:
        dropping.set()
        if feeder.is_alive():
            feeder.join()
        if rig.process is not None and rig.process.poll() is None:
            rig.kill()
        server.stop()
    return report


def _drop_files(directory: Path, stop: threading.Event, report: SoakReport) -> None:
    """A camera of another vendor: a TIFF every 0.2 s, each frame filled with its number."""
    directory.mkdir(parents=True, exist_ok=True)
    number = 0
    while not stop.wait(0.2):
        partial = directory / f"frame_{number}.part"
        tifffile.imwrite(partial, np.full((12, 16), number % 65536, np.uint16))
        os.replace(partial, directory / f"frame_{number}.tiff")
        number += 1
        report.folder_files_dropped = number


def _tear_newest(directory: Path, chance: random.Random) -> int:
    """Append half a line to the newest file directly in ``directory``; 1 if one was torn."""
    files = [
        path for path in directory.glob("*") if path.is_file() and not path.name.startswith(".")
    ]
    if not files:
        return 0
    newest = max(files, key=lambda path: path.stat().st_mtime_ns)
    with newest.open("ab") as file:
        file.write(b'{"name": "event", "doc": {"uid": "torn'[: chance.randint(1, 30)])
    return 1


def _loads(data: Path, timelapse_id: str) -> int:
    """1 if the store loads the timelapse (it may not exist yet), else 0."""
    store = TimelapseStore(data / "timelapses")
    if not store.exists(timelapse_id) and not store.snapshots(timelapse_id):
        return 1
    try:
        store.load(timelapse_id)
    except Exception:
        return 0
    return 1


def _check(report: SoakReport, data: Path, server: LocalTiled) -> None:
    state = TimelapseStore(data / "timelapses").load("soak")
    report.slots = Counter(record.status for record in state.slots)
    succeeded = {record.index for record in state.slots if record.status == "succeeded"}

    client = server.client()
    runs = [
        run
        for run in client.values()
        if run.metadata.get("start", {}).get("timelapse_id") == "soak"  # not timelapses/
    ]
    report.runs_in_tiled = len(runs)
    per_slot = Counter(run.metadata["start"]["slot_index"] for run in runs)
    report.duplicates = sum(n - 1 for n in per_slot.values())
    report.runs_without_stop = sum(1 for run in runs if run.metadata.get("stop") is None)
    uids = {run.metadata["start"]["uid"] for run in runs}
    report.recorded_runs_not_in_tiled = sum(
        1 for record in state.slots if record.run_uid is not None and record.run_uid not in uids
    )
    acquired = {r.index for r in state.slots if r.status in ("succeeded", "failed", "interrupted")}
    report.runs_of_slots_not_acquired = sum(1 for slot in per_slot if slot not in acquired)
    in_tiled: set[int] = set()
    for run in runs:
        if "primary" not in run:
            continue
        primary = run["primary"]
        images = primary["cam_image"].read()
        report.frames_in_tiled += len(images)
        if len(images):
            in_tiled.add(run.metadata["start"]["slot_index"])
        if "folder_image" in primary:
            folder = primary["folder_image"].read()
            numbers = primary["folder_n"].read()
            report.folder_frames_in_tiled += len(folder)
            report.folder_frames_wrong += sum(
                int(not np.all(frame == number))
                for frame, number in zip(folder, numbers, strict=True)
            )
    for path in (data / "frames").rglob("*.h5"):
        try:
            with h5py.File(path, "r", swmr=True) as file:
                report.frames_on_disk += len(file["/entry/data/data"])
        except (OSError, KeyError):  # cut short by a kill while being created
            report.unreadable_frame_files += 1
    report.frames_of_succeeded_slots_missing = len(succeeded - in_tiled)
