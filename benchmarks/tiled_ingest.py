"""What the embedded Tiled server spends to take in a run: DuckDB against SQLite tables.

Two peers side by side, each a :class:`~bluesky_timelapse.tiled.LocalTiled` in a
fresh temporary directory, both running for the whole benchmark:

DuckDB tables
    The embedded server's configuration before SQLite tables: event tables in
    ``storage.duckdb`` (Tiled shares one DuckDB connection among its threads).
SQLite tables
    Today's default: event tables in ``storage.sqlite`` through one pooled
    connection.

Each peer takes the same work: ``RE(count([camera], num=E))`` N times (default
N = 40 runs of E = 1 event: one run per timelapse slot), a
:class:`~bluesky_timelapse.devices.SimCamera` (8x8 ``uint16``, HDF5) on a fresh
``RunEngine({})`` with ``TiledWriter(client, batch_size=50)`` subscribed (the
requests TiledSink's forwarder makes, without its journal). One untimed run
first, so first-use costs (imports, table creation) are not counted. The peers
take turns, ``--repeat`` rounds; the table gives medians over the rounds.

For each peer: the server's CPU time (user + system, from ``/proc/PID/stat``)
per run, the wall time per run, and the requests per run by kind (from the
server's access log), with the server's own time for each kind (the median of
the ``app;dur`` of its ``Server-Timing`` response header, which includes any
wait in the server).

Run it with the project's virtualenv::

    .venv/bin/python benchmarks/tiled_ingest.py              # about a minute
    .venv/bin/python benchmarks/tiled_ingest.py --runs 100 --repeat 3
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bluesky import RunEngine
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from bluesky_timelapse.tiled import LocalTiled
from machine import aligned, package_version

_REQUEST = re.compile(r'"([A-Z]+) /api/v1/([a-z_]+)/')
_SERVER_TIME = re.compile(r"\bapp;dur=([0-9.]+)")


class DuckDBTiled(LocalTiled):
    """The embedded server as configured before SQLite tables (for comparison only)."""

    def _tables_uri(self) -> str:
        return f"duckdb:///{self.directory / 'storage.duckdb'}"


PEERS: dict[str, type[LocalTiled]] = {"DuckDB tables": DuckDBTiled, "SQLite tables": LocalTiled}


@dataclass
class Round:
    cpu_per_run: float
    wall_per_run: float
    requests: collections.Counter[str]
    server_ms: dict[str, list[float]] = field(default_factory=dict)


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerTimes:
    """Collects the server's own time of each response, by request kind."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = collections.defaultdict(list)

    def __call__(self, response: httpx.Response) -> None:
        match = _SERVER_TIME.search(response.headers.get("server-timing", ""))
        kind = _kind(response.request.method, response.request.url.path)
        if match and kind:
            self.ms[kind].append(float(match.group(1)))


def _kind(method: str, path: str) -> str | None:
    match = re.match(r"/api/v1/([a-z_]+)/", path)
    return f"{method} {match.group(1)}" if match else None


class Peer:
    def __init__(self, name: str, server: LocalTiled, events: int) -> None:
        self.name = name
        self.server = server
        self.events = events
        self.engine = RunEngine({})
        self.times = ServerTimes()
        client = server.client()
        client.context.http_client.event_hooks["response"].append(self.times)
        self.engine.subscribe(
            TiledWriter(client, spec_to_mimetype=SPEC_TO_MIMETYPE, batch_size=50)
        )
        frames = server.readable_storage[0]
        self.camera = SimCamera(
            name="cam", root=str(frames), write_path_template="runs", writer="hdf5", shape=(8, 8)
        )
        self.engine(count([self.camera], num=1))  # untimed: first-use costs

    def measure(self, runs: int) -> Round:
        assert self.server.pid is not None
        log_offset = self.server.log_file.stat().st_size
        self.times.ms.clear()
        cpu = server_cpu(self.server.pid)
        began = time.perf_counter()
        for _ in range(runs):
            self.engine(count([self.camera], num=self.events))
        wall = time.perf_counter() - began
        cpu = server_cpu(self.server.pid) - cpu
        with self.server.log_file.open("rb") as log:
            log.seek(log_offset)
            text = log.read().decode(errors="replace")
        requests = collections.Counter(
            f"{method} {route}" for method, route in _REQUEST.findall(text)
        )
        return Round(cpu / runs, wall / runs, requests, dict(self.times.ms))


def table(results: dict[str, list[Round]], runs: int) -> list[str]:
    header = ["peer", "server CPU ms/run", "wall ms/run", "requests/run"]
    rows = [header]
    for name, rounds in results.items():
        total = sum(sum(r.requests.values()) for r in rounds) / len(rounds) / runs
        rows.append(
            [
                name,
                f"{statistics.median(r.cpu_per_run for r in rounds) * 1000:.0f}",
                f"{statistics.median(r.wall_per_run for r in rounds) * 1000:.0f}",
                f"{total:.1f}",
            ]
        )
    lines = aligned(rows, 1)
    kinds = sorted({kind for rounds in results.values() for r in rounds for kind in r.requests})
    rows = [["request", *(f"{name}: n/run, server ms p50" for name in results)]]
    for kind in kinds:
        cells = [kind]
        for rounds in results.values():
            n = sum(r.requests[kind] for r in rounds) / len(rounds) / runs
            ms = [v for r in rounds for v in r.server_ms.get(kind, [])]
            cells.append(f"{n:.1f}, {statistics.median(ms):.1f}" if ms else f"{n:.1f}")
        rows.append(cells)
    return [*lines, "", *aligned(rows, 1)]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="runs per peer and round")
    parser.add_argument("--events", type=int, default=1, help="events per run")
    parser.add_argument("--repeat", type=int, default=2, help="rounds (peers take turns)")
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the servers live")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for name, value in (
        ("--runs", args.runs),
        ("--events", args.events),
        ("--repeat", args.repeat),
    ):
        if value < 1:
            raise SystemExit(f"{name} {value} is not allowed; give an integer >= 1")
    print(
        f"tiled {package_version('tiled')}, bluesky-tiled-plugins "
        f"{package_version('bluesky-tiled-plugins')}, duckdb {package_version('duckdb')}, "
        f"adbc-driver-sqlite {package_version('adbc-driver-sqlite')}, Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    print(f"{args.runs} runs of {args.events} event(s) per peer and round, {args.repeat} rounds")
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        servers: dict[str, Any] = {}
        try:
            peers = []
            for index, (name, kind) in enumerate(PEERS.items()):
                root = Path(tmp) / str(index)
                server = servers[name] = kind(root / "tiled", readable_storage=[root / "frames"])
                server.start()
                peers.append(Peer(name, server, args.events))
            results: dict[str, list[Round]] = {peer.name: [] for peer in peers}
            for round_index in range(args.repeat):
                for peer in peers:
                    print(f"round {round_index + 1}: {peer.name}", file=sys.stderr, flush=True)
                    results[peer.name].append(peer.measure(args.runs))
        finally:
            for server in servers.values():
                server.stop()
    print("\n".join(table(results, args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
