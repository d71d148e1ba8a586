"""Schedule keeping: lateness and drift of the timelapse plan against ``count(delay)``.

Two peers acquire the same number of slots (default 600) at the same interval
(default 0.1 s) with a tiny :class:`~bluesky_timelapse.devices.SimCamera` (8x8,
NPY, fsync off), each on a bare ``RunEngine({})`` in a fresh temporary directory,
once undisturbed and once with one 1 s suspension in the middle:

timelapse
    Our ``timelapse([camera], every(interval, count=N, start=now + 0.5 s), grace=10,
    store=...)``: one run per slot, each slot waited for with an absolute deadline
    (``wait_until``), every change of a slot's state saved to the store (in the same
    temporary directory). With the default ``lead`` (0.5 s) a slot begins ahead of
    its time (run opened, camera staged, state saved) and its trigger waits for the
    scheduled time; as the slots are only 0.1 s apart, each begins as soon as the one
    before has ended.
count(delay)
    bluesky's ``count([camera], num=N, delay=interval)``: one run, the delay slept
    after each reading. Its intended schedule is ``t0 + k * interval``, ``t0`` being
    the time of its first event; as each step takes the reading's time plus the
    delay, it drifts by the cost of a reading per slot even when undisturbed.

Lateness of a slot is the ``time`` of the slot's event minus the time the slot was
due: for the timelapse, the first event of the slot's run minus the start
document's ``scheduled_timestamp``; for ``count(delay)``, the event of point ``k``
(``seq_num - 1``) minus ``t0 + k * interval``. Both thus include the cost of
triggering and reading the camera; the timelapse opens its run and saves the
slot's state before the slot's time (``lead``), as ``count`` does once, before
``t0``. The table shows this event-based lateness; the lateness the timelapse
records in each start document (``lateness``: how late the slot began, before its
run was opened, 0 when it began on time) is printed below the table. Statistics are over all slots, including those held up by
the suspension; drift is the lateness of the last slot minus that of the first.
Wall time is that of the ``RE(...)`` call (the timelapse's includes its 0.5 s lead).

The suspension: a ``bluesky.suspenders.SuspendBoolHigh(signal, sleep=0)`` on an
ophyd ``Signal``, set to 1 by a ``threading.Timer`` half-way through the schedule
(``N/2 * interval`` after the first slot is due, or after ``count`` is called) and
back to 0 one second later. ``count`` rewinds to its last checkpoint and sleeps its
whole delay again, so everything after the suspension is late by the suspension and
the replayed sleep (and a reading may be repeated: see the events column); the
timelapse runs the slots that fell due during it late, then catches up with its
schedule. bluesky's suspender gives up tripping when the RunEngine's event loop
does not answer it within 0.1 s (a plan step that blocks the loop, such as a slow
store save); the timer then lowers and raises the signal again, and the number of
such failed trips is reported.

Memory: a separate timelapse of 2000 slots at a short interval (0.01 s, grace one
hour: it runs as fast as it can) measures the growth of the resident set size
(``VmRSS`` from ``/proc/self/status`` before and after, and its peak sampled every
50 ms), then the same run again under ``tracemalloc`` for the growth and peak of
Python's own allocations. The store's database (``timelapses.db`` and its log), which
holds a row per slot and gets the changed rows at every change of a slot's state, is
measured at the end with the time spent saving it.

Targets, for the timelapse (misses are marked ``<`` in the table): p99 lateness
<= 20 ms without suspension on this machine; no drift, i.e. the last slot as on time
as the first (|drift| <= 20 ms, with and without the suspension); a run for every
slot (a slot later than the grace period is recorded missed and has none); memory
growth over a 2000-slot run <= 20 MB.

Run it with the project's virtualenv::

    .venv/bin/python benchmarks/schedule.py               # defaults, about 8 minutes
    .venv/bin/python benchmarks/schedule.py --slots 50 --memory-slots 200
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bluesky import RunEngine
from bluesky.plans import count
from bluesky.suspenders import SuspendBoolHigh
from ophyd import Signal

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.persistence import TimelapseStore
from bluesky_timelapse.plans import timelapse
from bluesky_timelapse.schedules import every
from machine import aligned, filesystem_of, package_version, percentile

TARGET_P99_MS = 20.0
TARGET_DRIFT_MS = 20.0
TARGET_MEMORY_MB = 20.0
LEAD = 0.5
"""Seconds from building the timelapse's schedule to its first slot."""
GRACE = 10.0
SUSPENSION = 1.0
"""Seconds the suspender holds the RunEngine."""
TRIP_ATTEMPTS = 50
MEMORY_GRACE = 3600.0
RSS_SAMPLE_PERIOD = 0.05
WARM_UP_SLOTS = 5
MB = 1e6

PEERS: tuple[str, ...] = ("timelapse", "count(delay)")
SUSPENSIONS: tuple[bool, ...] = (False, True)


# --- measuring -------------------------------------------------------------------------


@dataclass
class Result:
    """One run of one peer: per-slot lateness (s) in slot order, and what it produced."""

    slots: int
    """Slots scheduled (readings asked of count)."""
    lateness: list[float]
    """One per slot that ran (a slot the timelapse recorded missed has no event)."""
    events: int
    runs: int
    wall: float
    recorded: list[float] = field(default_factory=list)
    """The timelapse's start-document ``lateness`` per slot (s); empty for count."""
    saving: float = 0.0
    """Seconds spent in ``TimelapseStore.save`` (timelapse only)."""
    saves: int = 0
    longest_save: float = 0.0
    failed_trips: int = 0
    """Times the suspender failed to trip, the RunEngine's loop busy for > 0.1 s."""
    suspended: tuple[float, float] | None = None
    """When the suspension began and ended (Unix time), if there was one."""

    @property
    def drift(self) -> float:
        return self.lateness[-1] - self.lateness[0]


class Collector:
    """Keeps what lateness needs from the documents of the runs, nothing else."""

    def __init__(self) -> None:
        self.starts: list[dict[str, Any]] = []
        self.first_event: dict[str, float] = {}
        """Time of the first event of each run, by run start uid."""
        self.events: list[tuple[int, float]] = []
        """(seq_num, time) of every event, in order."""
        self._run: str | None = None

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        if name == "start":
            self.starts.append(
                {key: doc.get(key) for key in ("uid", "scheduled_timestamp", "lateness")}
            )
            self._run = doc["uid"]
        elif name == "event":
            self.events.append((doc["seq_num"], doc["time"]))
            if self._run is not None:
                self.first_event.setdefault(self._run, doc["time"])


class StoreSaveTimer:
    """Times every ``TimelapseStore.save`` while active (the class method is wrapped)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.longest = 0.0

    @contextlib.contextmanager
    def active(self) -> Iterator[StoreSaveTimer]:
        original = TimelapseStore.save

        def timed_save(store: TimelapseStore, state: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(store, state)
            finally:
                elapsed = time.perf_counter() - start
                self.seconds += elapsed
                self.calls += 1
                self.longest = max(self.longest, elapsed)

        TimelapseStore.save = timed_save  # type: ignore[method-assign]
        try:
            yield self
        finally:
            TimelapseStore.save = original  # type: ignore[method-assign]


class Suspension:
    """A ``SuspendBoolHigh`` on a Signal that a timer raises for ``SUSPENSION`` seconds."""

    def __init__(self, RE: RunEngine, delay: float) -> None:
        self.signal = Signal(name="bench_suspend", value=0)
        self.suspender = SuspendBoolHigh(self.signal, sleep=0)
        self.began = self.ended = 0.0
        self.failed_trips = 0
        """Times the suspender did not trip (see :meth:`_suspend`)."""
        self._RE = RE
        self._timer = threading.Timer(delay, self._suspend)
        self._timer.daemon = True

    def _suspend(self) -> None:
        # bluesky's suspender asks the RunEngine's event loop to make its asyncio.Event
        # and gives up ("Could not create the suspender event", logged by ophyd) when
        # the loop does not answer within 0.1 s, e.g. while a plan blocks it: then no
        # suspension happens. Count that, lower the signal and raise it again.
        for _ in range(TRIP_ATTEMPTS):
            self.began = time.time()
            self.signal.put(1)
            if self.suspender._ev is not None:
                break
            self.failed_trips += 1
            self.signal.put(0)
        time.sleep(SUSPENSION)
        self.ended = time.time()
        self.signal.put(0)

    def __enter__(self) -> Suspension:
        self._RE.install_suspender(self.suspender)
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        self._timer.join()
        self._RE.remove_suspender(self.suspender)


def make_camera(directory: Path) -> SimCamera:
    """The tiny camera both peers read: 8x8 uint16 frames, NPY, no fsync."""
    return SimCamera(
        name="camera",
        root=str(directory),
        write_path_template=str(directory / "frames"),
        writer="npy",
        writer_options={"fsync": False},
        shape=(8, 8),
    )


def run_timelapse(
    directory: Path,
    n: int,
    interval: float,
    suspend: bool,
    *,
    grace: float = GRACE,
    lead: float = LEAD,
) -> Result:
    """Our timelapse of ``n`` slots, lateness from each run's first event."""
    RE = RunEngine({})
    collector = Collector()
    RE.subscribe(collector)
    camera = make_camera(directory)
    start = datetime.now(UTC) + timedelta(seconds=lead)
    schedule = every(interval, count=n, start=start).to_dict()
    delay = start.timestamp() - time.time() + n // 2 * interval
    suspension = Suspension(RE, delay) if suspend else contextlib.nullcontext()
    with StoreSaveTimer().active() as saving, suspension:
        began = time.perf_counter()
        RE(timelapse([camera], schedule, grace=grace, store=str(directory / "store")))
        wall = time.perf_counter() - began
    starts = collector.starts
    if [doc["scheduled_timestamp"] is not None for doc in starts].count(True) != len(starts):
        raise RuntimeError("timelapse: a start document lacks scheduled_timestamp")
    return Result(
        slots=n,
        lateness=[
            collector.first_event[doc["uid"]] - doc["scheduled_timestamp"] for doc in starts
        ],
        recorded=[doc["lateness"] for doc in starts],
        events=len(collector.events),
        runs=len(starts),
        wall=wall,
        saving=saving.seconds,
        saves=saving.calls,
        longest_save=saving.longest,
        suspended=(suspension.began, suspension.ended)
        if isinstance(suspension, Suspension)
        else None,
        failed_trips=suspension.failed_trips if isinstance(suspension, Suspension) else 0,
    )


def run_count(directory: Path, n: int, interval: float, suspend: bool) -> Result:
    """bluesky's ``count(num=n, delay=interval)``, lateness against ``t0 + k * interval``."""
    RE = RunEngine({})
    collector = Collector()
    RE.subscribe(collector)
    camera = make_camera(directory)
    suspension = Suspension(RE, n // 2 * interval) if suspend else contextlib.nullcontext()
    with suspension:
        began = time.perf_counter()
        RE(count([camera], num=n, delay=interval))
        wall = time.perf_counter() - began
    # A reading repeated after the suspension has the seq_num of the point it repeats;
    # each point's lateness is that of its first reading.
    first: dict[int, float] = {}
    for seq_num, when in collector.events:
        first.setdefault(seq_num, when)
    t0 = first[1]
    return Result(
        slots=n,
        lateness=[first[k] - (t0 + (k - 1) * interval) for k in sorted(first)],
        events=len(collector.events),
        runs=len(collector.starts),
        wall=wall,
        suspended=(suspension.began, suspension.ended)
        if isinstance(suspension, Suspension)
        else None,
        failed_trips=suspension.failed_trips if isinstance(suspension, Suspension) else 0,
    )


RUNNERS: dict[str, Callable[[Path, int, float, bool], Result]] = {
    "timelapse": run_timelapse,
    "count(delay)": run_count,
}


def in_fresh_directory(tmpdir: str | None, prefix: str, job: Callable[[Path], Any]) -> Any:
    """Run ``job`` in a new temporary directory, after syncing earlier writes."""
    with tempfile.TemporaryDirectory(dir=tmpdir, prefix=prefix) as directory:
        os.sync()
        gc.collect()
        return job(Path(directory))


# --- memory ----------------------------------------------------------------------------


def rss_mb() -> float:
    """Resident set size of this process now (``VmRSS``), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / MB
    raise RuntimeError("no VmRSS in /proc/self/status")


class RssSampler:
    """Samples ``VmRSS`` on a thread every ``RSS_SAMPLE_PERIOD`` s; keeps the peak."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_PERIOD):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


@dataclass
class MemoryResult:
    """Memory and store figures of one long timelapse."""

    slots: int
    wall: float
    rss_before: float
    rss_after: float
    rss_peak: float
    maxrss_before: float
    maxrss_after: float
    state_file: int
    store_total: int
    saving: float
    saves: int
    traced_growth: float | None = None
    traced_peak: float | None = None
    top_growth: list[str] = field(default_factory=list)


def maxrss_mb() -> float:
    """Peak resident set size of this process so far (``ru_maxrss``, KiB on Linux), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def memory_run(directory: Path, n: int, interval: float, traced: bool) -> MemoryResult:
    """A timelapse of ``n`` slots at ``interval``, RSS (or tracemalloc) before and after."""
    RE = RunEngine({})
    events = [0]

    def count_events(name: str, doc: dict[str, Any]) -> None:
        if name == "event":
            events[0] += 1

    RE.subscribe(count_events)
    camera = make_camera(directory)
    store = directory / "store"
    start = datetime.now(UTC) + timedelta(seconds=0.1)
    schedule = every(interval, count=n, start=start).to_dict()
    plan = timelapse([camera], schedule, grace=MEMORY_GRACE, store=str(store))
    gc.collect()
    if traced:
        tracemalloc.start(1)
        before_snapshot = tracemalloc.take_snapshot()
        traced_before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
    rss_before, maxrss_before = rss_mb(), maxrss_mb()
    with StoreSaveTimer().active() as saving, RssSampler() as sampler:
        began = time.perf_counter()
        RE(plan)
        wall = time.perf_counter() - began
    del plan
    gc.collect()
    rss_after = rss_mb()
    result = MemoryResult(
        slots=n,
        wall=wall,
        rss_before=rss_before,
        rss_after=rss_after,
        rss_peak=sampler.peak,
        maxrss_before=maxrss_before,
        maxrss_after=maxrss_mb(),
        state_file=sum(p.stat().st_size for p in store.glob("timelapses.db*")),
        store_total=sum(p.stat().st_size for p in store.rglob("*") if p.is_file()),
        saving=saving.seconds,
        saves=saving.calls,
    )
    if traced:
        current, peak = tracemalloc.get_traced_memory()
        after_snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        result.traced_growth = (current - traced_before) / MB
        result.traced_peak = (peak - traced_before) / MB
        filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
        growth = after_snapshot.filter_traces(filters).compare_to(
            before_snapshot.filter_traces(filters), "lineno"
        )
        result.top_growth = [str(stat) for stat in growth[:5]]
    if events[0] != n:
        raise RuntimeError(f"memory run: expected {n} events, got {events[0]}")
    return result


# --- harness ---------------------------------------------------------------------------


def summary(result: Result) -> dict[str, float]:
    """The table's statistics of one run, in ms (wall time in s)."""
    ms = [value * 1e3 for value in result.lateness]
    return {
        "p50": percentile(ms, 0.50),
        "p99": percentile(ms, 0.99),
        "max": max(ms),
        "drift": result.drift * 1e3,
        "wall": result.wall,
    }


def machine_facts(tmpdir: str) -> list[str]:
    """Lines describing the interpreter, libraries, CPUs, load and the temp filesystem."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    libraries = ", ".join(
        f"{name} {package_version(name)}"
        for name in ("bluesky", "ophyd", "event-model", "pydantic", "numpy")
    )
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"python    {platform.python_version()} ({sys.executable})",
        f"platform  {platform.platform()}",
        f"libraries {libraries}",
        f"cpus      {os.cpu_count()} ({usable} usable), load average {load}",
        f"clock     time.time resolution {time.get_clock_info('time').resolution * 1e9:.0f} ns",
        f"tmp       {filesystem_of(tmpdir)}",
    ]


def format_table(results: dict[tuple[str, bool], list[Result]]) -> list[str]:
    """The results table: median over repeats of each statistic, misses marked ``<``."""
    header = (
        "peer",
        "suspension",
        "runs",
        "events",
        "p50 ms",
        "p99 ms",
        "max ms",
        "drift ms",
        "wall s",
    )
    rows: list[tuple[str, ...]] = [header]
    for (peer, suspend), runs in results.items():
        stats = {key: statistics.median(summary(r)[key] for r in runs) for key in summary(runs[0])}
        ours = peer == "timelapse"
        late = ours and not suspend and stats["p99"] > TARGET_P99_MS
        drifts = ours and abs(stats["drift"]) > TARGET_DRIFT_MS
        events = sorted({r.events for r in runs})
        run_counts = sorted({r.runs for r in runs})
        short = ours and run_counts[0] < runs[0].slots
        rows.append(
            (
                peer,
                f"{SUSPENSION:g} s" if suspend else "none",
                "/".join(map(str, run_counts)) + (" <" if short else "  "),
                "/".join(map(str, events)),
                f"{stats['p50']:.1f}",
                f"{stats['p99']:.1f}{' <' if late else '  '}",
                f"{stats['max']:.1f}",
                f"{stats['drift']:.1f}{' <' if drifts else '  '}",
                f"{stats['wall']:.1f}",
            )
        )
    return aligned(rows, text_columns=2)


def timelapse_notes(n: int, results: dict[tuple[str, bool], list[Result]]) -> list[str]:
    """The timelapse's own recorded lateness and its store saves, per suspension mode."""
    lines = []
    for suspend in SUSPENSIONS:
        runs = results.get(("timelapse", suspend))
        if not runs:
            continue
        recorded = [value * 1e3 for r in runs for value in r.recorded]
        first = statistics.median(r.lateness[0] for r in runs) * 1e3
        last = statistics.median(r.lateness[-1] for r in runs) * 1e3
        saves = sum(r.saves for r in runs) / (n * len(runs))
        saving = sum(r.saving for r in runs) / (n * len(runs)) * 1e3
        longest = max(r.longest_save for r in runs) * 1e3
        missed = sum(r.slots - r.runs for r in runs)
        failed = sum(r.failed_trips for r in runs)
        lines.append(
            f"timelapse, suspension {f'{SUSPENSION:g} s' if suspend else 'none'}: start-document "
            f"lateness p50 {percentile(recorded, 0.5):.1f} / p99 {percentile(recorded, 0.99):.1f}"
            f" / max {max(recorded):.1f} ms; event lateness of the first slot {first:.1f} ms, "
            f"of the last {last:.1f} ms; {saves:.1f} store saves per slot, {saving:.1f} ms per slot "
            f"(the longest save {longest:.0f} ms)"
            + (f"; {missed} slot(s) missed (later than grace: no run)" if missed else "")
            + (
                f"; the suspender failed to trip {failed} time(s) (RunEngine loop busy "
                "> 0.1 s), raised again"
                if failed
                else ""
            )
        )
    return lines


def memory_lines(plain: MemoryResult, traced: MemoryResult | None, interval: float) -> list[str]:
    """The memory line, the facts behind it and the store's size."""
    growth = plain.rss_after - plain.rss_before
    miss = " <" if growth > TARGET_MEMORY_MB else ""
    lines = [
        f"memory growth over {plain.slots} slots: {growth:.1f} MB "
        f"(target <= {TARGET_MEMORY_MB:g} MB){miss}",
        f"  RSS {plain.rss_before:.1f} MB before, {plain.rss_after:.1f} MB after, peak "
        f"{plain.rss_peak:.1f} MB (sampled every {RSS_SAMPLE_PERIOD * 1e3:.0f} ms); ru_maxrss "
        f"{plain.maxrss_before:.1f} -> {plain.maxrss_after:.1f} MB",
    ]
    if traced is not None and traced.traced_growth is not None:
        lines.append(
            f"  tracemalloc (second run): Python allocations grew {traced.traced_growth:.2f} MB, "
            f"peak {traced.traced_peak:.2f} MB above the start"
        )
    per_slot = plain.wall / plain.slots * 1e3
    lines += [
        f"  {plain.slots} slots at {interval:g} s took {plain.wall:.1f} s ({per_slot:.1f} ms per "
        f"slot; behind schedule whenever that exceeds {interval * 1e3:g} ms)",
        f"  store: database {plain.state_file / MB:.2f} MB at the end "
        f"({plain.state_file / plain.slots:.0f} bytes per slot), store directory "
        f"{plain.store_total / MB:.2f} MB with its snapshots; {plain.saves} saves, "
        f"{plain.saving:.1f} s in total, {plain.saving / plain.slots * 1e3:.1f} ms per slot "
        f"({plain.saving / plain.wall:.0%} of the run)",
    ]
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--slots", type=int, default=600, help="slots per run (default: %(default)s)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.1,
        help="seconds between slots (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="repeats; the median of each statistic is shown (default: %(default)s)",
    )
    parser.add_argument(
        "--memory-slots",
        type=int,
        default=2000,
        help="slots of the memory run; 0 skips it (default: %(default)s)",
    )
    parser.add_argument(
        "--memory-interval",
        type=float,
        default=0.01,
        help="seconds between the memory run's slots (default: %(default)s)",
    )
    parser.add_argument(
        "--no-tracemalloc",
        dest="tracemalloc",
        action="store_false",
        help="skip the second memory run under tracemalloc",
    )
    parser.add_argument(
        "--tmpdir", default=None, help="where the temporary directories go (default: system tmp)"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print every repeat's numbers and where Python's memory grew",
    )
    args = parser.parse_args(argv)
    if args.slots < 2:
        parser.error("--slots must be >= 2")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.memory_slots < 0:
        parser.error("--memory-slots must be >= 0")
    if not args.interval > 0 or not args.memory_interval > 0:
        parser.error("--interval and --memory-interval must be > 0")
    return args


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(
    args: argparse.Namespace,
) -> tuple[dict[tuple[str, bool], list[Result]], MemoryResult | None, MemoryResult | None]:
    """Warm up, run every peer with and without suspension, then the memory runs."""
    n, interval = args.slots, args.interval
    progress("warming up (untimed)")
    for peer in PEERS:
        in_fresh_directory(
            args.tmpdir,
            "bt-schedule-",
            lambda d, peer=peer: RUNNERS[peer](d, WARM_UP_SLOTS, interval, False),
        )

    results: dict[tuple[str, bool], list[Result]] = {
        (peer, suspend): [] for peer in PEERS for suspend in SUSPENSIONS
    }
    for repeat in range(args.repeat):
        for (peer, suspend), runs in results.items():
            expected = n * interval + (SUSPENSION if suspend else 0.0)
            progress(
                f"[{repeat + 1}/{args.repeat}] {peer:<12} suspension "
                f"{'1 s ' if suspend else 'none'}: {n} slots, about {expected:.0f} s"
            )
            result: Result = in_fresh_directory(
                args.tmpdir,
                "bt-schedule-",
                lambda d, peer=peer, suspend=suspend: RUNNERS[peer](d, n, interval, suspend),
            )
            runs.append(result)
            stats = summary(result)
            progress(
                f"    p99 {stats['p99']:.1f} ms, max {stats['max']:.1f} ms, drift "
                f"{stats['drift']:.1f} ms, {result.runs} run(s), {result.events} events"
                + (
                    f"; the suspender failed to trip {result.failed_trips} time(s)"
                    if result.failed_trips
                    else ""
                )
            )

    plain = traced = None
    if args.memory_slots:
        progress(f"memory: {args.memory_slots} slots at {args.memory_interval:g} s")
        plain = in_fresh_directory(
            args.tmpdir,
            "bt-schedule-mem-",
            lambda d: memory_run(d, args.memory_slots, args.memory_interval, traced=False),
        )
        progress(
            f"    RSS growth {plain.rss_after - plain.rss_before:.1f} MB in {plain.wall:.0f} s"
        )
        if args.tracemalloc:
            progress(f"memory: {args.memory_slots} slots again, under tracemalloc")
            traced = in_fresh_directory(
                args.tmpdir,
                "bt-schedule-mem-",
                lambda d: memory_run(d, args.memory_slots, args.memory_interval, traced=True),
            )
            progress(
                f"    Python allocations grew {traced.traced_growth:.2f} MB in {traced.wall:.0f} s"
            )
    return results, plain, traced


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the machine facts, the table and the memory line."""
    args = parse_args(argv)
    tmpdir = args.tmpdir or tempfile.gettempdir()
    n, interval = args.slots, args.interval

    # bluesky prints its suspension notices: keep stdout for the results.
    with contextlib.redirect_stdout(sys.stderr):
        results, plain, traced = measure(args)

    print("\n".join(machine_facts(tmpdir)))
    print(
        f"schedule  {n} slots every {interval:g} s, SimCamera 8x8 uint16 NPY without fsync, "
        f"median of {args.repeat} repeat(s); suspension {SUSPENSION:g} s from slot {n // 2}"
    )
    print()
    print("\n".join(format_table(results)))
    print()
    print(
        f"targets (timelapse): p99 lateness <= {TARGET_P99_MS:g} ms without suspension, "
        f"|drift| <= {TARGET_DRIFT_MS:g} ms, a run for every slot; '<' marks a miss. Lateness = time of the slot's "
        "event - time it was due; drift = last slot's lateness - first's. count(delay) is due "
        f"at t0 + k*{interval:g} s from its first event; its runs/events show repeated readings."
    )
    print("\n".join(timelapse_notes(n, results)))
    if plain is not None:
        print()
        print("\n".join(memory_lines(plain, traced, args.memory_interval)))
    if args.verbose:
        print()
        for (peer, suspend), runs in results.items():
            for index, result in enumerate(runs):
                stats = summary(result)
                span = ""
                if result.suspended is not None:
                    span = f", suspended for {result.suspended[1] - result.suspended[0]:.3f} s"
                    span += f" ({result.failed_trips} failed trip(s))"
                print(
                    f"{peer:<12} {'1 s ' if suspend else 'none'} #{index + 1}: "
                    + ", ".join(f"{key} {value:.1f}" for key, value in stats.items())
                    + f", runs {result.runs}, events {result.events}{span}"
                )
                worst = sorted(enumerate(result.lateness), key=lambda item: -item[1])[:5]
                print(
                    "    latest slots: "
                    + ", ".join(f"#{slot} {late * 1e3:.0f} ms" for slot, late in worst)
                )
        if traced is not None and traced.top_growth:
            print("where Python's allocations grew (tracemalloc, by line):")
            for line in traced.top_growth:
                print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
