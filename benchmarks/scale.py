"""A year of slots: the cost of a slot, resuming and ``status`` as slots accumulate.

Synthetic timelapses (states generated directly; no schedule is waited on) of 1k,
10k, 100k and 500k settled slots (a year at one a minute is 525,600), three stores
side by side in one run, each in a fresh temporary directory:

sqlite (ours)
    :class:`~bluesky_timelapse.persistence.TimelapseStore`: one SQLite database,
    WAL, ``synchronous=FULL``; a save writes the rows of the slots the state holds
    (the plan forgets the settled ones after each save), resume and ``status`` read
    the summary of the settled slots through two indexes.
json (0.2)
    The store of release 0.2, re-enacted: every save rewrites the whole state as JSON
    (temporary file, fsync, rename, fsync of the directory) plus a snapshot copy;
    resume and ``status`` parse the whole file.
append log
    The other design considered: one JSON line per changed slot appended and fsynced
    to a log (compaction aside); resume would replay the log.

For each size: the cost of one slot transition (the three saves of a slot as the
plan makes them: run uid, run closed, succeeded; median and p99 of the time per
save over ``--transitions`` slots), the time to resume (open the store, load
without settled slots) and to summarise (``timelapse_status``), medians of 5, and
the bytes on disk. Targets (ours): per-save cost at 500k within 2x of at 1k; resume
and ``status`` <= 1 s at 500k; misses are marked ``<``.

Run it from the repository root with the project's virtualenv::

    .venv/bin/python benchmarks/scale.py                  # about five minutes
    .venv/bin/python benchmarks/scale.py --sizes 1000 10000 --transitions 50

``--tmpdir`` puts the stores on the disk you want to measure (fsync cost is the
disk's), ``--no-json`` leaves out the 0.2 store at sizes above 100k (its saves take
seconds there).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bluesky_timelapse._files import atomic_write
from bluesky_timelapse.persistence import SlotRecord, TimelapseState, TimelapseStore
from bluesky_timelapse.plans import timelapse_status
from machine import aligned, filesystem_of, package_version, percentile

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ID = "year"
SCHEDULE = {"kind": "every", "interval": 60.0, "start": T0.isoformat()}


def settled_state(slots: int) -> TimelapseState:
    """A timelapse whose first ``slots`` slots succeeded (a failure every 1000th)."""
    state = TimelapseState(timelapse_id=ID, created=T0, schedule=SCHEDULE)
    for index in range(slots):
        when = T0 + timedelta(minutes=index)
        failed = index % 1000 == 999
        state.slots.append(
            SlotRecord.model_construct(
                index=index,
                scheduled=when,
                status="failed" if failed else "succeeded",
                run_uid=f"{index:08d}-0000-4000-8000-000000000000",
                started=when,
                finished=when + timedelta(seconds=2),
                lateness=0.012,
                error="RuntimeError: no frame" if failed else None,
                stop_emitted=True,
            )
        )
    return state


def slot_saves(
    state: TimelapseState, index: int, save: Callable[[TimelapseState], None]
) -> list[float]:
    """Take slot ``index`` through its transitions, saving as the plan does; the save times."""
    when = T0 + timedelta(minutes=index)
    times = []
    state.mark_running(index, when, lateness=0.01, started=when)
    for step in (
        lambda: state.mark_run_uid(index, f"uid-{index}"),
        lambda: state.mark_run_closed(index),
        lambda: state.mark_succeeded(index, finished=when),
    ):
        step()
        began = time.perf_counter()
        save(state)
        times.append(time.perf_counter() - began)
    return times


def median_time(action: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def disk_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def measure_sqlite(directory: Path, slots: int, transitions: int) -> dict[str, float]:
    store = TimelapseStore(directory)
    store.create(settled_state(slots))
    store.close()
    resume = median_time(lambda: TimelapseStore(directory).load(ID, settled=False))
    status = median_time(lambda: timelapse_status(ID, directory))
    store = TimelapseStore(directory)
    state = store.load(ID, settled=False)
    times: list[float] = []

    def save(changed: TimelapseState) -> None:
        store.save(changed)
        changed.forget_settled()

    for index in range(slots, slots + transitions):
        times += slot_saves(state, index, save)
    store.close()
    return _row(times, resume, status, disk_bytes(directory))


def measure_json(directory: Path, slots: int, transitions: int) -> dict[str, float]:
    state_file = directory / f"{ID}.json"
    snapshots = directory / "snapshots"
    snapshots.mkdir()
    counter = 0

    def save(changed: TimelapseState) -> None:  # what 0.2's TimelapseStore.save did
        nonlocal counter
        data = changed.model_dump_json().encode()
        atomic_write(state_file, data)
        counter += 1
        atomic_write(snapshots / f"{ID}.json.{counter}", data, durable=False)
        (snapshots / f"{ID}.json.{counter - 5}").unlink(missing_ok=True)

    state = settled_state(slots)
    save(state)

    def load() -> TimelapseState:
        return TimelapseState.model_validate_json(state_file.read_bytes())

    resume = median_time(load, repeat=3)
    status = median_time(lambda: load().counts(), repeat=3)
    times: list[float] = []
    for index in range(slots, slots + transitions):
        times += slot_saves(state, index, save)
    return _row(times, resume, status, disk_bytes(directory))


def measure_log(directory: Path, slots: int, transitions: int) -> dict[str, float]:
    log_path = directory / f"{ID}.log"
    state = settled_state(slots)
    with log_path.open("wb") as log:
        for record in state.slots:
            log.write(record.model_dump_json().encode() + b"\n")
        os.fsync(log.fileno())
    log = log_path.open("ab")

    def save(changed: TimelapseState) -> None:
        for record in changed.slots[-1:]:
            log.write(record.model_dump_json().encode() + b"\n")
        log.flush()
        os.fsync(log.fileno())

    def replay() -> int:
        with log_path.open("rb") as lines:
            return len({json.loads(line)["index"] for line in lines})

    resume = median_time(replay, repeat=3)
    times: list[float] = []
    for index in range(slots, slots + transitions):
        times += slot_saves(state, index, save)
    log.close()
    return _row(times, resume, float("nan"), disk_bytes(directory))


def _row(times: list[float], resume: float, status: float, size: int) -> dict[str, float]:
    return {
        "median": statistics.median(times),
        "p99": percentile(times, 0.99),
        "resume": resume,
        "status": status,
        "bytes": size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 500_000])
    parser.add_argument("--transitions", type=int, default=200, help="slots timed at each size")
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--no-json", action="store_true", help="no 0.2 store above 100k slots")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="scale-", dir=args.tmpdir))
    print(f"bluesky-timelapse {package_version('bluesky-timelapse')}, {sys.version.split()[0]}")
    print(f"stores on {filesystem_of(str(base))}")
    peers = {
        "sqlite (ours)": measure_sqlite,
        "json (0.2)": measure_json,
        "append log": measure_log,
    }
    results: dict[tuple[str, int], dict[str, float]] = {}
    for size in args.sizes:
        for name, measure in peers.items():
            if name == "json (0.2)" and args.no_json and size > 100_000:
                continue
            directory = base / f"{name.split()[0]}-{size}"
            directory.mkdir()
            print(f"  {name} at {size:,} slots ...", file=sys.stderr, flush=True)
            transitions = args.transitions if name != "json (0.2)" or size <= 10_000 else 10
            results[name, size] = measure(directory, size, transitions)
    rows = [["store", "slots", "save p50 ms", "save p99 ms", "resume ms", "status ms", "MB"]]
    smallest = min(args.sizes)
    for (name, size), row in results.items():
        ours = name == "sqlite (ours)"
        flat = row["median"] <= 2 * results[name, smallest]["median"]
        rows.append(
            [
                name,
                f"{size:,}",
                f"{row['median'] * 1e3:.2f}" + ("" if flat or not ours else " <"),
                f"{row['p99'] * 1e3:.2f}",
                f"{row['resume'] * 1e3:.1f}" + (" <" if ours and row["resume"] > 1 else ""),
                "-"
                if row["status"] != row["status"]
                else f"{row['status'] * 1e3:.1f}" + (" <" if ours and row["status"] > 1 else ""),
                f"{row['bytes'] / 1e6:.1f}",
            ]
        )
    print("\n".join(aligned(rows, 1)))
    print(
        "save: one fsynced save (3 per slot); resume: open + load without settled slots "
        "(json: parse the file; log: replay it); '<' misses a target"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
