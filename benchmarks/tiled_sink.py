"""Getting runs into Tiled: what the RunEngine pays, and how soon the data is readable.

Four peers acquire the same ``RE(count([camera], num=N))`` (default N = 500) with a
:class:`~bluesky_timelapse.devices.SimCamera` (64x64 ``uint16``, HDF5), side by side
in one run against the same local Tiled server, each on a fresh ``RunEngine({})``:

(a) none
    No Tiled subscription: the floor.
(b) TiledWriter
    ``bluesky_tiled_plugins.TiledWriter(client, spec_to_mimetype=SPEC_TO_MIMETYPE,
    batch_size=1)`` subscribed directly: every document is a request the RunEngine
    waits for, and each event is readable as soon as ``RE`` has handled it.
(c) TiledSink
    :class:`~bluesky_timelapse.callbacks.TiledSink` with its default options (a
    journal in the temporary directory, ``batch_size=50``, ``forward_in="process"``):
    the RunEngine appends each document to the journal; a child process follows
    the journal and forwards it to Tiled behind its back.
(c') TiledSink on a thread
    The same with ``forward_in="thread"``: the forwarder runs on a thread of the
    RunEngine's process, as it did before forwarding moved to a process.

Each sink (here and in the latency runs below) is made, and sends one untimed run
of one event, before its timed run, as a session's sink is up long before its
acquisitions (a forwarding process takes about 2.4 s of CPU to import what it
needs, 1.5 s of it bluesky-tiled-plugins).

For each: the wall time of the ``RE(...)`` call; "readable after", the time from
the end of ``RE(...)`` until Tiled has all N rows of that run (the first dimension
of ``run["primary"]["camera_image"]``, polled every 50 ms; the image is written
after the event's row of scalars, so this is when the whole event is there; 0 for
(b) by construction, checked once); and the RunEngine's cost per document, the
``time.perf_counter()`` around each call of the subscribed callback: median and
p99 over all documents of the run (N datums, N events, start, descriptor,
resource, stop), and their sum ("callback s"); nothing is subscribed for (a).
Every peer also has a cheap recorder subscribed that counts the documents and
keeps each event's ``time``. The CPU times of this process and of the server
during ``RE(...)`` are shown too: on a machine with few cores, the server and
TiledSink's forwarder take CPU the RunEngine would otherwise have, which the wall
time shows and the cost per document does not.

Latency at 10 events/s: ``RE(count([camera], num=M, delay=0.1))`` (default M = 100)
through a fresh TiledSink, while a thread with its own client asks Tiled for the
length of the run's image array (one request each,
``client[uid, "primary", "camera_image"]``). When a poll returns more rows than the
last, the new rows are stamped with the poll's return time; an event's latency is
that stamp minus the event document's ``time``. The stamp is an upper bound: the
row may have become readable up to one poll (request and pause) earlier, so the
polls' request times are printed with it, with the achieved event rate (``delay``
plus a reading per event) and the rate at which rows became readable (first row
to last: below the event rate, the backlog and the latency grow through the run).

The polls are requests to the server TiledSink forwards to, and each costs it CPU
(about 26 ms per request with 64x64 frames on a loaded 2-core machine, against
about 100 ms per forwarded event): polls every 20 ms run back to back and take a
good share of the server, slowing the forwarding they measure. The latency run is
therefore made twice, with polls every 20 ms and every 0.5 s (``--latency-poll``
sets the periods); the 0.5 s run loads the server less, and its stamps are up to
about half a second late. "Readable after" polls every 50 ms (``--poll``), which
slows forwarding less but still measurably.

The camera writes one HDF5 file per run, with its default durability (fsync after
every frame; ``--no-camera-fsync`` turns that off): with one file per run the data
source TiledWriter updates per event stays the same size, so its cost per event is
flat. With one file per frame (TIFF, NPY) each event re-sends the whole, growing
list of files, so the cost per event grows with the run (233 -> 933 ms from frame
100 to 400 in the project's field notes), which would make (b) and the forwarding
of (c) depend on N.

The server is a ``tiled.server.SimpleTiledServer`` (SQLite catalog, DuckDB tables)
for the whole run, used as a context manager, with the camera's frames under its
readable storage. By default it runs in a child process, as a real local server
would; ``--server thread`` runs it on a thread of this process, where it competes
with the RunEngine, TiledWriter and TiledSink's forwarder for the GIL. Before the
timed runs, every peer runs once, untimed, on a few events, so first-use costs
(imports, the first requests, table creation) are not timed.

Targets (misses are marked ``<``): (c) wall time <= 1.1x (a); data readable in
Tiled within 2 s p99 of its event at 10 events/s through TiledSink; the RunEngine's
cost per document through TiledSink <= 0.5 ms (median and p99).

Run it with the project's virtualenv::

    .venv/bin/python benchmarks/tiled_sink.py             # defaults, a few minutes
    .venv/bin/python benchmarks/tiled_sink.py --events 50 --latency-events 30
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import os
import platform
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bluesky import RunEngine
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter
from tiled.client import from_uri
from tiled.server import SimpleTiledServer

from bluesky_timelapse.callbacks import TiledSink
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from machine import aligned, filesystem_of, package_version, percentile

TARGET_WALL_RATIO = 1.1
TARGET_LATENCY_P99 = 2.0
"""Seconds from an event to its row being readable in Tiled, p99, at 10 events/s."""
TARGET_COST_MS = 0.5
READABLE_POLL = 0.05
LATENCY_POLLS = (0.02, 0.5)
"""Poll periods of the latency runs: the one asked for, and a control that loads the server less."""
WARM_UP_EVENTS = 5
IMAGE_KEY = "camera_image"
MB = 1e6

PEERS: tuple[str, ...] = ("none", "TiledWriter", "TiledSink", "TiledSink thread")
LABELS: dict[str, str] = {
    "none": "(a) none",
    "TiledWriter": "(b) TiledWriter batch_size=1",
    "TiledSink": "(c) TiledSink",
    "TiledSink thread": "(c') TiledSink, thread",
}
SINKS: tuple[str, ...] = ("TiledSink", "TiledSink thread")


# --- the server ------------------------------------------------------------------------


def _serve(directory: str, data: str, api_key: str, connection: Connection) -> None:
    """In the child process: serve until the parent says stop (or goes away)."""
    os.dup2(2, 1)  # nothing the server prints may reach the parent's results
    with SimpleTiledServer(directory, api_key=api_key, port=0, readable_storage=[data]) as server:
        connection.send(server.uri)
        with contextlib.suppress(EOFError):
            connection.recv()


@contextlib.contextmanager
def tiled_server(directory: Path, data: Path, mode: str) -> Iterator[tuple[str, int | None]]:
    """A SimpleTiledServer in a child process or on a thread.

    Yields its URI (with the key) and the child's pid (None on a thread).
    """
    api_key = secrets.token_hex(8)
    if mode == "thread":
        with SimpleTiledServer(
            directory, api_key=api_key, port=0, readable_storage=[data]
        ) as server:
            yield server.uri, None
        return
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(str(directory), str(data), api_key, theirs), name="tiled-server"
    )
    process.start()
    try:
        deadline = time.monotonic() + 120
        while not ours.poll(0.2):
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Tiled server did not start (see its traceback above)")
        yield ours.recv(), process.pid
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(30)
        if process.is_alive():
            process.terminate()
            process.join()


def readable_rows(client: Any, uid: str) -> int:
    """How many frames of run ``uid`` Tiled serves now (one request)."""
    try:
        return int(client[uid, "primary", IMAGE_KEY].shape[0])
    except KeyError:  # the run, its stream or its image array is not there yet
        return 0


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process, or of process ``pid`` (from /proc)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- measuring -------------------------------------------------------------------------


class Recorder:
    """Counts documents by name, keeps the run's uid and each event's ``time``."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.uid: str | None = None
        self.event_times: list[float] = []

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        if name == "start":
            self.uid = doc["uid"]
        elif name == "event":
            self.event_times.append(doc["time"])

    def expect_events(self, n: int, what: str) -> str:
        """The run's uid; raise unless it emitted exactly ``n`` events and ``n`` datums."""
        events, datums = self.counts.get("event", 0), self.counts.get("datum", 0)
        if self.uid is None or events != n or datums != n:
            raise RuntimeError(
                f"{what}: expected a run of {n} events and {n} datums, got {events} and "
                f"{datums} (documents: {self.counts})"
            )
        return self.uid


class Timed:
    """A RunEngine callback timing each call of the callback it wraps."""

    def __init__(self, callback: Any) -> None:
        self.callback = callback
        self.costs: list[tuple[str, float]] = []

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        start = time.perf_counter()
        self.callback(name, doc)
        self.costs.append((name, time.perf_counter() - start))


@dataclass(frozen=True)
class Setup:
    """What every measurement shares: the server, where frames go, the camera, the polls."""

    uri: str
    server_pid: int | None
    """The server's process, for its CPU time; None when it runs on a thread here."""
    data: Path
    size: int
    fsync: bool
    poll: float
    timeout: float


@dataclass
class PeerResult:
    """One timed ``RE(count(...))`` of one peer."""

    wall: float
    readable_after: float | None
    """Seconds from the end of ``RE(...)`` until Tiled had every row; None: never."""
    costs: list[tuple[str, float]] = field(default_factory=list)
    """(document name, seconds in the callback) per document; empty for (a)."""
    documents: int = 0
    cpu: float = 0.0
    """CPU seconds of this process during ``RE(...)``."""
    server_cpu: float | None = None
    """CPU seconds of the server's process during ``RE(...)``; None on a thread."""
    forwarder_cpu: float | None = None
    """CPU seconds of TiledSink's forwarding process during ``RE(...)``; None: none."""


@dataclass
class LatencyResult:
    """The 10 events/s run through TiledSink."""

    latencies: list[float]
    """Seconds from each event's ``time`` to its row being readable, in event order."""
    rate: float
    """Events per second the RunEngine achieved."""
    forwarded: float
    """Rows per second that became readable, from the first row to the last."""
    period: float
    """Seconds between the polls' starts (when a poll took less)."""
    polls: list[float]
    """Seconds each poll's request took."""
    costs: list[tuple[str, float]]
    wall: float


def make_camera(setup: Setup, subdirectory: str) -> SimCamera:
    """The camera: ``size`` x ``size`` uint16 frames, one HDF5 file per run."""
    return SimCamera(
        name="camera",
        root=str(setup.data),
        write_path_template=subdirectory,
        writer="hdf5",
        writer_options={"fsync": setup.fsync},
        shape=(setup.size, setup.size),
        dtype="uint16",
        colour=False,
        exposure=0.0,
    )


def wait_until_readable(
    client: Any, uid: str, n: int, period: float, timeout: float
) -> float | None:
    """Seconds until Tiled serves ``n`` rows of run ``uid``, polled; None after ``timeout``."""
    start = time.perf_counter()
    while readable_rows(client, uid) < n:
        elapsed = time.perf_counter() - start
        if elapsed > timeout:
            return None
        time.sleep(period)
    return time.perf_counter() - start


def run_peer(peer: str, setup: Setup, journal: Path, n: int) -> PeerResult:
    """``RE(count([camera], num=n))`` with the peer's subscription, then wait for Tiled."""
    RE = RunEngine({})
    recorder = Recorder()
    RE.subscribe(recorder)
    camera = make_camera(setup, f"{peer}-{secrets.token_hex(4)}")
    sink: TiledSink | None = None
    timed: Timed | None = None
    if peer == "TiledWriter":
        client = from_uri(setup.uri)
        timed = Timed(TiledWriter(client, spec_to_mimetype=SPEC_TO_MIMETYPE, batch_size=1))
    elif peer in SINKS:
        if peer == "TiledSink":
            sink = TiledSink(journal, from_uri(setup.uri))
        else:
            sink = TiledSink(journal, partial(from_uri, setup.uri), forward_in="thread")
        warm_up(sink, camera, setup, peer)
        timed = Timed(sink)
    if timed is not None:
        RE.subscribe(timed)
    pid = setup.server_pid
    forwarder = forwarder_pid(sink)
    try:
        cpu, server_cpu = cpu_seconds(), cpu_seconds(pid) if pid else 0.0
        forwarder_cpu = cpu_seconds(forwarder) if forwarder else 0.0
        start = time.perf_counter()
        RE(count([camera], num=n))
        wall = time.perf_counter() - start
        cpu, server_cpu = cpu_seconds() - cpu, cpu_seconds(pid) - server_cpu if pid else 0.0
        if forwarder:
            forwarder_cpu = cpu_seconds(forwarder) - forwarder_cpu
        uid = recorder.expect_events(n, peer)
        readable_after: float | None = None
        if peer == "TiledWriter":
            rows = readable_rows(from_uri(setup.uri), uid)
            if rows != n:
                raise RuntimeError(f"TiledWriter: {rows} rows in Tiled after RE(...), not {n}")
            readable_after = 0.0
        elif peer in SINKS:
            readable_after = wait_until_readable(
                from_uri(setup.uri), uid, n, setup.poll, setup.timeout
            )
    finally:
        if sink is not None:
            sink.close()
    if sink is not None and readable_after is not None and sink.health().queue_depth:
        raise RuntimeError(f"TiledSink: every row readable, yet {sink.health()} after close")
    return PeerResult(
        wall=wall,
        readable_after=readable_after,
        costs=timed.costs if timed is not None else [],
        documents=sum(recorder.counts.values()),
        cpu=cpu,
        server_cpu=server_cpu if pid else None,
        forwarder_cpu=forwarder_cpu if forwarder else None,
    )


def warm_up(sink: TiledSink, camera: SimCamera, setup: Setup, peer: str) -> None:
    """One untimed run of one event through ``sink``, in Tiled before the timed run."""
    engine = RunEngine({})
    engine.subscribe(sink)
    engine(count([camera], num=1))
    if not sink.flush(setup.timeout):
        raise RuntimeError(f"{peer}: the untimed run did not reach Tiled")


def forwarder_pid(sink: TiledSink | None) -> int | None:
    """The process id of ``sink``'s forwarding process (None: none, or on a thread)."""
    process = getattr(getattr(sink, "_forwarder", None), "_process", None)
    return getattr(process, "pid", None)


class RowPoller:
    """Asks Tiled for the length of a run's image array every ``period``; stamps new rows."""

    def __init__(self, client: Any, recorder: Recorder, n: int, period: float) -> None:
        self.client, self.recorder, self.n, self.period = client, recorder, n, period
        self.stamps: list[float] = []
        """``time.time()`` when each row (in order) was first seen readable."""
        self.polls: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="row-poller", daemon=True)

    def _poll(self) -> None:
        while len(self.stamps) < self.n and not self._stop.is_set():
            began = time.perf_counter()
            uid = self.recorder.uid
            if uid is not None:
                rows = readable_rows(self.client, uid)
                self.polls.append(time.perf_counter() - began)
                seen = time.time()
                self.stamps += [seen] * (min(rows, self.n) - len(self.stamps))
            self._stop.wait(max(0.0, self.period - (time.perf_counter() - began)))

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait until every row is seen or ``timeout`` passes, then stop polling."""
        self._thread.join(timeout)
        self._stop.set()
        self._thread.join()


def run_latency(
    setup: Setup, journal: Path, m: int, interval: float, period: float
) -> LatencyResult:
    """``RE(count([camera], num=m, delay=interval))`` through TiledSink, rows polled."""
    RE = RunEngine({})
    recorder = Recorder()
    RE.subscribe(recorder)
    camera = make_camera(setup, f"latency-{secrets.token_hex(4)}")
    sink = TiledSink(journal, from_uri(setup.uri))
    warm_up(sink, camera, setup, "TiledSink")
    timed = Timed(sink)
    RE.subscribe(timed)
    poller = RowPoller(from_uri(setup.uri), recorder, m, period)
    poller.start()
    try:
        start = time.perf_counter()
        RE(count([camera], num=m, delay=interval))
        wall = time.perf_counter() - start
        recorder.expect_events(m, "latency run")
        poller.join(setup.timeout)
    finally:
        sink.close()
    stamps = poller.stamps
    if len(stamps) < m:
        raise RuntimeError(
            f"latency run: only {len(stamps)} of {m} rows readable in Tiled after "
            f"{setup.timeout:g} s"
        )
    times = recorder.event_times
    return LatencyResult(
        latencies=[seen - when for seen, when in zip(stamps, times, strict=True)],
        rate=(m - 1) / (times[-1] - times[0]),
        forwarded=(m - 1) / (stamps[-1] - stamps[0]) if stamps[-1] > stamps[0] else float("inf"),
        period=period,
        polls=poller.polls,
        costs=timed.costs,
        wall=wall,
    )


# --- harness ---------------------------------------------------------------------------


def cost_ms(costs: Sequence[tuple[str, float]], fraction: float) -> float:
    """The ``fraction`` quantile of the per-document costs, in ms (0 if none)."""
    return percentile([seconds for _, seconds in costs], fraction) * 1e3 if costs else 0.0


def cost_by_name(costs: Sequence[tuple[str, float]]) -> str:
    """Median and max cost per document name, in ms, e.g. ``event 0.10/2.3``."""
    names: dict[str, list[float]] = {}
    for name, seconds in costs:
        names.setdefault(name, []).append(seconds * 1e3)
    return ", ".join(
        f"{name} x{len(values)} {statistics.median(values):.3f}/{max(values):.3f}"
        for name, values in names.items()
    )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine_facts(tmpdir: str, server: str, load_before: str) -> list[str]:
    """Lines describing the interpreter, libraries, CPUs, load, the disk and the server."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    libraries = ", ".join(
        f"{name} {package_version(name)}"
        for name in ("bluesky", "ophyd", "event-model", "tiled", "bluesky-tiled-plugins", "h5py")
    )
    where = "in a child process" if server == "process" else "on a thread of this process"
    return [
        f"python    {platform.python_version()} ({sys.executable})",
        f"platform  {platform.platform()}",
        f"libraries {libraries}",
        f"cpus      {os.cpu_count()} ({usable} usable), load average {load_before} at the start, "
        f"{load_average()} at the end",
        f"tmp       {filesystem_of(tmpdir)}",
        f"server    tiled SimpleTiledServer {where}, catalog, tables, frames and journals in tmp",
    ]


def format_table(results: dict[str, list[PeerResult]]) -> list[str]:
    """The results table: median over repeats of each statistic, misses marked ``<``."""
    header = (
        "peer",
        "wall s",
        "x (a)",
        "readable after s",
        "cost/doc p50 ms",
        "p99 ms",
        "callback s",
        "CPU s",
        "forwarder CPU s",
        "server CPU s",
        "docs",
    )
    floor = statistics.median(r.wall for r in results["none"])
    rows: list[tuple[str, ...]] = [header]
    for peer, runs in results.items():
        wall = statistics.median(r.wall for r in runs)
        ratio = wall / floor
        readable = [r.readable_after for r in runs]
        if peer == "none":
            readable_cell = "n/a"
        elif any(value is None for value in readable):
            readable_cell = "timeout"
        else:
            readable_cell = f"{statistics.median(v for v in readable if v is not None):.2f}"
        p50 = statistics.median(cost_ms(r.costs, 0.50) for r in runs)
        p99 = statistics.median(cost_ms(r.costs, 0.99) for r in runs)
        in_callback = statistics.median(sum(seconds for _, seconds in r.costs) for r in runs)
        server_cpu = [r.server_cpu for r in runs if r.server_cpu is not None]
        forwarder_cpu = [r.forwarder_cpu for r in runs if r.forwarder_cpu is not None]
        ours = peer == "TiledSink"
        rows.append(
            (
                LABELS[peer],
                f"{wall:.2f}",
                f"{ratio:.2f}{' <' if ours and ratio > TARGET_WALL_RATIO else '  '}",
                readable_cell,
                f"{p50:.3f}{' <' if ours and p50 > TARGET_COST_MS else '  '}",
                f"{p99:.3f}{' <' if ours and p99 > TARGET_COST_MS else '  '}",
                f"{in_callback:.2f}",
                f"{statistics.median(r.cpu for r in runs):.2f}",
                f"{statistics.median(forwarder_cpu):.2f}" if forwarder_cpu else "n/a",
                f"{statistics.median(server_cpu):.2f}" if server_cpu else "n/a",
                "/".join(sorted({str(r.documents) for r in runs})),
            )
        )
    return aligned(rows, text_columns=1)


def ratio_lines(results: dict[str, list[PeerResult]]) -> list[str]:
    """Wall time of (b) and (c) against (a), with the target."""
    floor = statistics.median(r.wall for r in results["none"])
    writer = statistics.median(r.wall for r in results["TiledWriter"]) / floor
    sink = statistics.median(r.wall for r in results["TiledSink"]) / floor
    thread = statistics.median(r.wall for r in results["TiledSink thread"]) / floor
    miss = " <" if sink > TARGET_WALL_RATIO else ""
    return [
        f"ratios vs (a): (b) TiledWriter {writer:.2f}x, (c) TiledSink {sink:.2f}x "
        f"(target (c) <= {TARGET_WALL_RATIO:g}x){miss}, (c') on a thread {thread:.2f}x"
    ]


def latency_lines(result: LatencyResult, m: int, interval: float) -> list[str]:
    """The 10 events/s line of one poll period and the facts behind it."""
    p99 = percentile(result.latencies, 0.99)
    miss = " <" if p99 > TARGET_LATENCY_P99 else ""
    cost_p99 = cost_ms(result.costs, 0.99)
    cost_miss = " <" if cost_p99 > TARGET_COST_MS else ""
    worst = max(range(len(result.latencies)), key=result.latencies.__getitem__)
    request = percentile(result.polls, 0.5)
    back_to_back = " (back to back: each took longer)" if request > result.period else ""
    return [
        f"latency at {1 / interval:g} events/s, polls every {result.period * 1e3:g} ms (TiledSink,"
        f" {m} events, count(delay={interval:g})): event -> readable in Tiled p50 "
        f"{percentile(result.latencies, 0.5):.2f}"
        f" / p99 {p99:.2f} / max {max(result.latencies):.2f} s (target p99 <= "
        f"{TARGET_LATENCY_P99:g} s){miss}",
        f"  achieved {result.rate:.1f} events/s, rows became readable at {result.forwarded:.1f}"
        f"/s; RE wall {result.wall:.1f} s; first event "
        f"{result.latencies[0]:.2f} s, last {result.latencies[-1]:.2f} s, worst #{worst + 1}; "
        f"{len(result.polls)} polls{back_to_back}, each took p50 {request * 1e3:.0f} / max "
        f"{max(result.polls) * 1e3:.0f} ms",
        f"  RunEngine cost per document p50 {cost_ms(result.costs, 0.5):.3f} / p99 "
        f"{cost_p99:.3f} ms (target <= {TARGET_COST_MS:g} ms){cost_miss}",
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--events", type=int, default=500, help="events per peer's run (default: %(default)s)"
    )
    parser.add_argument(
        "--latency-events",
        type=int,
        default=100,
        help="events of the latency run; 0 skips it (default: %(default)s)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.1,
        help="count's delay in the latency run, s (default: %(default)s)",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=64,
        help="frames are SIZE x SIZE uint16 (default: %(default)s)",
    )
    parser.add_argument(
        "--no-camera-fsync",
        dest="fsync",
        action="store_false",
        help="the camera does not fsync its HDF5 file after every frame",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=READABLE_POLL,
        help="seconds between polls for 'readable after' (default: %(default)s)",
    )
    parser.add_argument(
        "--latency-poll",
        type=float,
        nargs="+",
        default=list(LATENCY_POLLS),
        help="seconds between polls; one latency run for each (default: %(default)s)",
    )
    parser.add_argument(
        "--server",
        choices=("process", "thread"),
        default="process",
        help="run the Tiled server in a child process or on a thread (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="repeats of the four peers; the median is shown (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="longest wait for a run to be readable in Tiled, s (default: %(default)s)",
    )
    parser.add_argument(
        "--tmpdir", default=None, help="where the temporary directories go (default: system tmp)"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print every repeat's numbers and the cost per document name",
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.size < 1 or args.repeat < 1:
        parser.error("--events, --size and --repeat must be >= 1")
    if args.latency_events < 0:
        parser.error("--latency-events must be >= 0")
    if args.latency_events == 1:
        parser.error("--latency-events must be 0 or >= 2")
    if min(args.interval, args.timeout, args.poll, *args.latency_poll) <= 0:
        parser.error("--interval, --timeout, --poll and --latency-poll must be > 0")
    return args


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(
    args: argparse.Namespace, directory: Path
) -> tuple[dict[str, list[PeerResult]], list[LatencyResult]]:
    """Start the server, warm up, run the peers, then the latency runs."""
    data = directory / "data"
    data.mkdir()
    journals = directory / "journals"
    journal_count = 0

    def fresh_journal() -> Path:
        nonlocal journal_count
        journal_count += 1
        return journals / f"sink-{journal_count}"

    progress(f"starting the Tiled server ({args.server})")
    with tiled_server(directory / "tiled", data, args.server) as (uri, server_pid):
        setup = Setup(
            uri=uri,
            server_pid=server_pid,
            data=data,
            size=args.size,
            fsync=args.fsync,
            poll=args.poll,
            timeout=args.timeout,
        )
        progress("warming up (untimed)")
        for peer in PEERS:
            run_peer(peer, setup, fresh_journal(), WARM_UP_EVENTS)
        results: dict[str, list[PeerResult]] = {peer: [] for peer in PEERS}
        for repeat in range(args.repeat):
            for peer in PEERS:
                progress(f"[{repeat + 1}/{args.repeat}] {LABELS[peer]}: {args.events} events")
                os.sync()
                gc.collect()
                result = run_peer(peer, setup, fresh_journal(), args.events)
                results[peer].append(result)
                readable = (
                    ""
                    if result.readable_after is None
                    else f", readable after {result.readable_after:.2f} s"
                )
                progress(f"    wall {result.wall:.2f} s{readable}")
        latencies: list[LatencyResult] = []
        for period in args.latency_poll if args.latency_events else []:
            m, interval = args.latency_events, args.interval
            progress(
                f"latency: {m} events at count(delay={interval:g}) through TiledSink, polls "
                f"every {period:g} s"
            )
            os.sync()
            gc.collect()
            latencies.append(run_latency(setup, fresh_journal(), m, interval, period))
            progress(f"    p99 {percentile(latencies[-1].latencies, 0.99):.2f} s")
        progress("stopping the Tiled server")
    return results, latencies


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the machine facts, the table and the latency line."""
    args = parse_args(argv)
    tmpdir = args.tmpdir or tempfile.gettempdir()
    n = args.events
    load_before = load_average()

    with (
        tempfile.TemporaryDirectory(dir=tmpdir, prefix="bt-tiled-sink-") as directory,
        contextlib.redirect_stdout(sys.stderr),  # keep stdout for the results
    ):
        results, latencies = measure(args, Path(directory))

    print("\n".join(machine_facts(tmpdir, args.server, load_before)))
    print(
        f"runs      count([camera], num={n}), SimCamera {args.size}x{args.size} uint16 HDF5, "
        f"fsync {'on' if args.fsync else 'off'}, one fresh RunEngine({{}}) per peer, median "
        f"of {args.repeat} repeat(s)"
    )
    print()
    print("\n".join(format_table(results)))
    print()
    print("\n".join(ratio_lines(results)))
    for latency in latencies:
        print("\n".join(latency_lines(latency, args.latency_events, args.interval)))
    print(
        f"targets: (c) wall <= {TARGET_WALL_RATIO:g}x (a); p99 event -> readable <= "
        f"{TARGET_LATENCY_P99:g} s at 10 events/s; (c) cost per document <= "
        f"{TARGET_COST_MS:g} ms; '<' marks a miss. Readable after = end of RE(...) until "
        "Tiled serves every row; cost/doc = time in the subscribed callback; CPU = this "
        "process's CPU time during RE(...), server CPU = the server process's."
    )
    if args.verbose:
        print()
        for peer, runs in results.items():
            for index, result in enumerate(runs):
                readable = (
                    "n/a" if result.readable_after is None else f"{result.readable_after:.2f}"
                )
                print(
                    f"{LABELS[peer]} #{index + 1}: wall {result.wall:.2f} s, readable after "
                    f"{readable} s, docs {result.documents}, CPU {result.cpu:.2f} s, server CPU "
                    f"{'n/a' if result.server_cpu is None else f'{result.server_cpu:.2f} s'}"
                )
                if result.costs:
                    print(f"    ms per document name (median/max): {cost_by_name(result.costs)}")
        for latency in latencies:
            print(
                f"latency run, polls every {latency.period:g} s: ms per document name "
                f"(median/max): {cost_by_name(latency.costs)}"
            )
            print(
                "    latency per event, s: "
                + " ".join(f"{value:.2f}" for value in latency.latencies)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
