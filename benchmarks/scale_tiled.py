"""Reading a long timelapse back from Tiled: ``load()`` time, frames/s, and ingest cost.

Slot runs are generated directly, not acquired: for each slot one HDF5 file with
one ``uint16`` frame (``--size``, 64x64 by default) is written with h5py, and the
run's documents (start with the slot metadata ``timelapse()`` gives, a
descriptor, an ``AD_HDF5`` Resource, a Datum, an event, a stop) are composed with
event_model, as :func:`slot_documents` does. They go, against one embedded
:class:`~bluesky_timelapse.tiled.LocalTiled` server (a child process), through:

today: sink, no index
    :class:`~bluesky_timelapse.callbacks.TiledSink` as it forwarded before the
    index (``SlotIndexWriter.prepare`` and ``.record`` patched to do nothing):
    each run only (``--baseline-runs`` runs, timelapse ``today``).
new: sink, rows
    TiledSink with ``copy_frames=False``: each run plus its row in the
    timelapse's index (``--baseline-runs`` runs, timelapse ``rows``).
new: sink, rows + frames
    TiledSink with its defaults: each run, its frame appended to the timelapse's
    array, and its row (``--runs`` runs, timelapse ``indexed``; 1,000, or 10,000
    with ``--large``).
today: sink, no index, after
    The first peer again (timelapse ``today-after``), into the catalog that now
    holds all the runs above: how the catalog's size alone changes a run's cost.

Every sink forwards on a thread (``forward_in="thread"``), so that the first
peer can be patched; the server's cost is the same as from a forwarding process.

For each, the server's CPU time (process and children, from psutil) from the
first document until all runs are in Tiled, per run, overall and over the last
100 runs (the runs go in 100 at a time, each hundred flushed: a cost per run
that grew with the slots already taken would show there).

Then, on the ``indexed`` timelapse (the same runs, the same server):

- ``load()`` time: today's path (the index lookup disabled, so ``load()`` reads
  every run's metadata with one paged query) against the index (its table);
- reading ``--frames`` frames (default 1,000) with ``frames.isel(slot=slice(0, N)).values``:
  today's path (one request per frame from its run; dask's threads, one per
  core), the same with a pool of ``--workers`` threads (``dask.config``
  ``num_workers``), and the index's array (many frames per request).

``--index-only N`` measures instead the index side alone at N slots in a minute:
an index node written directly (N rows in one append, N frames in one array,
as the sink would have written them; no runs), then ``load()`` from it and
reading ``--frames`` frames. (Today's path needs the N runs themselves.)

Target: reading 1,000 frames at >= 10x the frames/s of one request per frame;
``load()`` of a 10k-slot timelapse <= 3 s. Misses are marked ``<``.

Run it as ``.venv/bin/python benchmarks/scale_tiled.py`` (1,000 runs; about five
minutes on a quiet 2-core machine, most of it ingest), ``--large`` for 10,000
runs (about an hour), or quickly as ``--runs 200 --baseline-runs 20 --frames 200``.
Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dask
import h5py
import numpy as np
import psutil
import pyarrow
from event_model import compose_run
from tiled.structures.core import Spec

from bluesky_timelapse.callbacks import TiledSink
from bluesky_timelapse.specs import (
    AD_HDF5,
    HDF5_DATASET,
    TIMELAPSE_SPEC,
    TIMELAPSE_SPEC_VERSION,
)
from bluesky_timelapse.tiled import LocalTiled, SlotIndexWriter, load
from bluesky_timelapse.tiled import _load as load_module
from bluesky_timelapse.tiled._index import INDEX_KEY, SCHEMA, SLOTS_KEY

sys.path.insert(0, str(Path(__file__).parent))
from machine import aligned, package_version

FIRST_SLOT = datetime(2026, 1, 1, tzinfo=UTC)
INTERVAL = timedelta(minutes=1)

Documents = Iterator[tuple[str, dict[str, Any]]]


def slot_documents(
    timelapse_id: str, slot: int, directory: Path, *, shape: tuple[int, int] = (64, 64)
) -> Documents:
    """Write slot ``slot``'s frame to ``directory`` and yield its run's documents."""
    path = directory / f"{timelapse_id}-{slot:06d}.h5"
    with h5py.File(path, "w") as file:
        file[HDF5_DATASET] = np.full((1, *shape), slot % 65536, dtype="uint16")
    due = FIRST_SLOT + slot * INTERVAL
    run = compose_run(
        time=due.timestamp() + 0.01,
        metadata={
            "plan_name": "count",
            "detectors": ["cam"],
            "timelapse_id": timelapse_id,
            "slot_index": slot,
            "scheduled_time": due.isoformat(),
            "scheduled_timestamp": due.timestamp(),
            "lateness": 0.01,
        },
    )
    yield "start", run.start_doc
    descriptor = run.compose_descriptor(
        name="primary",
        data_keys={
            "cam_image": {
                "source": "sim",
                "dtype": "array",
                "dtype_numpy": "<u2",
                "shape": list(shape),
                "external": "FILESTORE:",
            },
        },
        object_keys={"cam": ["cam_image"]},
    )
    yield "descriptor", descriptor.descriptor_doc
    resource = run.compose_resource(
        spec=AD_HDF5, root=str(directory), resource_path=path.name, resource_kwargs={}
    )
    yield "resource", resource.resource_doc
    datum = resource.compose_datum(datum_kwargs={"point_number": 0})
    yield "datum", datum
    yield (
        "event",
        descriptor.compose_event(
            data={"cam_image": datum["datum_id"]},
            timestamps={"cam_image": due.timestamp() + 0.02},
            filled={"cam_image": False},
        ),
    )
    yield "stop", run.compose_stop(exit_status="success")


def server_cpu(server: LocalTiled) -> float:
    """CPU seconds of the server process and its children so far."""
    assert server.pid is not None
    process = psutil.Process(server.pid)
    total = sum(process.cpu_times()[:2])
    for kid in process.children(recursive=True):
        total += sum(kid.cpu_times()[:2])
    return total


def ingest(
    server: LocalTiled,
    send: Callable[[str, dict[str, Any]], None],
    finish: Callable[[], None],
    timelapse_id: str,
    runs: int,
    frames: Path,
    shape: tuple[int, int],
) -> tuple[float, float, float]:
    """Send ``runs`` slot runs, ``finish()`` every 100; server CPU s/run overall and in
    the last 100, and wall s/run."""
    start_cpu, wall = server_cpu(server), time.perf_counter()
    last = start_cpu
    for slot in range(runs):
        for name, doc in slot_documents(timelapse_id, slot, frames, shape=shape):
            send(name, doc)
        if slot % 100 == 99 or slot == runs - 1:
            finish()
            if slot < runs - 1:
                last = server_cpu(server)
            print(f"  {timelapse_id}: {slot + 1} runs in Tiled", file=sys.stderr)
    end_cpu = server_cpu(server)
    last_runs = runs - (runs - 1) // 100 * 100
    return (
        (end_cpu - start_cpu) / runs,
        (end_cpu - last) / last_runs,
        (time.perf_counter() - wall) / runs,
    )


def write_index_only(client: Any, timelapse_id: str, slots: int, shape: tuple[int, int]) -> None:
    """An index node of ``slots`` slots as TiledSink writes it, in three requests, no runs."""
    node = client.create_container(key=INDEX_KEY).create_container(
        key=timelapse_id,
        metadata={"timelapse_id": timelapse_id, "start": {"plan_name": "count"}},
        specs=[Spec(TIMELAPSE_SPEC, version=TIMELAPSE_SPEC_VERSION)],
    )
    frames = np.broadcast_to(
        (np.arange(slots) % 65536).astype("uint16")[:, None, None], (slots, *shape)
    )
    node.create_container(key="primary").write_array(np.ascontiguousarray(frames), key="cam_image")
    rows = []
    for slot in range(slots):
        due = FIRST_SLOT + slot * INTERVAL
        rows.append(
            {
                "slot_index": slot,
                "run_uid": f"{slot:08d}-0000-4000-8000-000000000000",
                "time": due.timestamp() + 0.01,
                "scheduled_timestamp": due.timestamp(),
                "scheduled_time": due.isoformat(),
                "lateness": 0.01,
                "exit_status": "success",
                "num_events": '{"primary": 1}',
                "frame_rows": f'{{"primary/cam_image": {slot}}}',
                "frame_shapes": f'{{"primary/cam_image": [{shape[0]}, {shape[1]}]}}',
            }
        )
    table = node.create_appendable_table(SCHEMA, key=SLOTS_KEY)
    table.append_partition(0, pyarrow.Table.from_pylist(rows, schema=SCHEMA))


def index_only(slots: int, frames_read: int, shape: tuple[int, int], tmpdir: Path | None) -> None:
    with tempfile.TemporaryDirectory(dir=tmpdir) as tmp, LocalTiled(Path(tmp) / "tiled") as server:
        client = server.client()
        print(f"index only: writing {slots} slots", file=sys.stderr)
        write_index_only(client, "synthetic", slots, shape)
        load_s, frames = timed(lambda: load(client, "synthetic"))
        assert frames.shape == (slots, *shape)
        read_s, values = timed(lambda: frames.isel(slot=slice(0, frames_read)).values)
        assert (values[:, 0, 0] == np.arange(frames_read) % 65536).all()
    print(f"# scale_tiled --index-only: {slots} slots, frames {shape[0]}x{shape[1]} uint16")
    mark = " <" if slots >= 10_000 and load_s > 3 else ""
    table = [("index only", "slots", "load() s", "frames", "read s", "frames/s")]
    table.append(
        (
            "new: the index",
            str(slots),
            f"{load_s:.2f}{mark}",
            str(frames_read),
            f"{read_s:.2f}",
            f"{frames_read / read_s:.0f}",
        )
    )
    print("\n".join(aligned(table, 1)))


@contextlib.contextmanager
def without_index() -> Iterator[None]:
    """TiledSink's forwarding as it was before the index: the index writer does nothing."""
    saved = SlotIndexWriter.prepare, SlotIndexWriter.record
    SlotIndexWriter.prepare = SlotIndexWriter.record = lambda *args: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        SlotIndexWriter.prepare, SlotIndexWriter.record = saved  # type: ignore[method-assign]


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="slots of the indexed timelapse")
    parser.add_argument("--large", action="store_true", help="10,000 slots (overrides --runs)")
    parser.add_argument("--baseline-runs", type=int, default=100)
    parser.add_argument("--frames", type=int, default=1000, help="frames read back")
    parser.add_argument("--size", type=int, default=64, help="frames are size x size uint16")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--tmpdir", type=Path, default=None)
    parser.add_argument("--index-only", type=int, default=None, metavar="N")
    args = parser.parse_args()
    runs = 10_000 if args.large else args.runs
    shape = (args.size, args.size)
    if args.index_only is not None:
        index_only(args.index_only, min(args.frames, args.index_only), shape, args.tmpdir)
        return
    frames_read = min(args.frames, runs)

    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        root = Path(tmp)
        frames = root / "frames"
        frames.mkdir()
        with LocalTiled(root / "tiled", readable_storage=[frames]) as server:
            client = server.client()
            ingest_rows = []
            peers = (
                ("today: sink, no index", "today", args.baseline_runs, {}),
                ("new: sink, rows", "rows", args.baseline_runs, {"copy_frames": False}),
                ("new: sink, rows + frames", "indexed", runs, {}),
                ("today: sink, no index, after", "today-after", args.baseline_runs, {}),
            )
            for label, timelapse_id, count, options in peers:
                print(f"ingest: {label}", file=sys.stderr)
                with contextlib.ExitStack() as stack:
                    if label.startswith("today"):
                        stack.enter_context(without_index())
                    sink = TiledSink(
                        root / f"journal-{timelapse_id}",
                        client,
                        forward_in="thread",
                        **options,
                    )
                    stack.callback(sink.close)
                    per_run = ingest(server, sink, sink.flush, timelapse_id, count, frames, shape)
                ingest_rows.append((label, count, *per_run))

            print("load()", file=sys.stderr)
            index_lookup = load_module.read_slot_index
            load_module.read_slot_index = lambda *_: None  # type: ignore[assignment]
            try:
                load_today, today = timed(lambda: load(client, "indexed"))
            finally:
                load_module.read_slot_index = index_lookup
            load_new, new = timed(lambda: load(client, "indexed"))
            assert today.shape == new.shape == (runs, *shape)

            print("frames", file=sys.stderr)
            part = slice(0, frames_read)
            expected = np.arange(frames_read) % 65536
            reads = []
            for label, array, workers in (
                ("today: a request per frame", today, None),
                (f"today + {args.workers} threads", today, args.workers),
                ("new: the index's array", new, None),
            ):
                cpu = server_cpu(server)
                with dask.config.set(num_workers=workers):
                    seconds, values = timed(lambda array=array: array.isel(slot=part).values)
                assert (values[:, 0, 0] == expected).all(), label
                reads.append((label, seconds, (server_cpu(server) - cpu) / frames_read))

    print(
        f"# scale_tiled: {runs} slots, frames {shape[0]}x{shape[1]} uint16, {psutil.cpu_count()} "
        f"cores; tiled {package_version('tiled')}, bluesky-tiled-plugins "
        f"{package_version('bluesky-tiled-plugins')}"
    )
    table = [("ingest", "runs", "server CPU s/run", "last 100 runs", "wall s/run")]
    table += [
        (label, str(n), f"{cpu:.3f}", f"{cpu_last:.3f}", f"{wall:.3f}")
        for label, n, cpu, cpu_last, wall in ingest_rows
    ]
    print("\n".join(aligned(table, 1)))
    print()
    target = "" if runs < 10_000 or load_new <= 3 else " <"
    table = [("load()", "slots", "s", "x today")]
    table.append(("today: every run's metadata", str(runs), f"{load_today:.2f}", "1.0"))
    table.append(
        ("new: the index", str(runs), f"{load_new:.2f}{target}", f"{load_today / load_new:.1f}")
    )
    print("\n".join(aligned(table, 1)))
    print()
    base = frames_read / reads[0][1]
    table = [("reading frames", "frames", "s", "frames/s", "x today", "server CPU ms/frame")]
    for label, seconds, cpu in reads:
        rate = frames_read / seconds
        mark = " <" if label.startswith("new") and rate < 10 * base else ""
        table.append(
            (
                label,
                str(frames_read),
                f"{seconds:.2f}",
                f"{rate:.0f}{mark}",
                f"{rate / base:.1f}",
                f"{cpu * 1000:.1f}",
            )
        )
    print("\n".join(aligned(table, 1)))


if __name__ == "__main__":
    main()
