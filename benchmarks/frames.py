"""Frame-writing throughput: the RunEngine path against the bare library limit.

For each writer (``tiff``, ``hdf5``, ``zarr``, ``npy``) and each durability mode
(fsync on / off) this script writes the same number of frames of the same size
(default 200 frames of 1024x1024 ``uint16``) five ways, side by side in one run,
with ophyd's and ophyd-async's own simulated detectors for reference:

bare loop
    A plain Python loop calling the storage library directly (``tifffile.imwrite``,
    ``h5py``, ``zarr``, ``numpy.save``) with the same layout and the same
    durability as our writer: the floor set by disk and library. The frames are
    rendered beforehand by the scene the camera uses, so rendering is not timed.
writer loop
    Our writer (``writer_for(name, fsync=...)``) appending the same pre-rendered
    frames in a plain loop: the writer's own overhead over the bare library.
RunEngine
    ``RE(count([camera], num=N))`` with :class:`~bluesky_timelapse.devices.SimCamera`
    and a bare ``RunEngine({})`` (only a cheap document counter subscribed): what a
    user gets, including rendering, documents, threads and the event loop. Each
    trigger completes once its frame is written (the default, ``write_queue=0``).
RunEngine, write-behind
    The same with ``SimCamera(write_queue=8)``: a trigger completes once its frame is
    rendered, and the frames are written on a thread, as an areaDetector file plugin
    does, so the RunEngine's work overlaps the writes (the run ends when all are
    written: unstage waits for them).
RunEngine, write-behind in a process
    The same with ``SimCamera(write_queue=8, write_process=True)``: the frames are
    copied into shared memory and written by a child process
    (:class:`~bluesky_timelapse.storage.ProcessWriter`), so the writer's Python
    does not take turns with the RunEngine's for the interpreter lock. The child
    is started before the timing (by a stage, as a device's first stage would).
ophyd.sim
    ``ophyd.sim.SynSignalWithRegistry`` (``numpy.save``, no fsync) counted by the
    same RunEngine, for reference in the ``npy`` row with fsync off.
ophyd-async
    ``RE(count([camera], num=N))`` with our ophyd-async
    :class:`~bluesky_timelapse.async_devices.AsyncSimCamera` (same frames, same
    writer, ``writer_options={"fsync": ...}``, ``exposure=0``), created with
    ``StaticPathProvider(UUIDFilenameProvider(), directory)`` inside
    ``init_devices()`` before the timing starts; it describes its frames with
    StreamResource and StreamDatum documents. Each trigger completes once its frame
    is written.
SimBlobDetector
    ophyd-async's own ``ophyd_async.sim.SimBlobDetector`` (HDF5, SWMR, no fsync),
    for reference in the ``hdf5`` rows (both fsync modes; it never syncs). Its
    frames are fixed at 240x320 ``uint8`` (76.8 kB, plus an ``int64`` sum per frame
    in a second dataset), so the table gives its MB/s as well as its frames/s. It
    paces frames at its ``livetime + deadtime`` (0.2 s per frame unless prepared),
    so it runs the plan ``count`` is made of (stage, open a run,
    ``prepare(TriggerInfo(livetime=1e-4))``, then N ``trigger_and_read``) rather
    than ``count`` itself, which stages (and so forgets the prepare) on its own.

Every measurement runs in a fresh temporary directory, after ``os.sync()`` so no
earlier run's dirty pages are written back during it; the repeats are interleaved
and the median is reported. Before them every measurement runs once, untimed, on
a few frames, so first-use costs are not timed. The render cost per frame is
printed apart: for frames spread over a scene day (a new picture each, the sky's
background cached) and for a camera at ``time_scale=1``, as the RunEngine path
runs it, whose picture changes only when the sun moves a pixel (every
``day_length / (2 * size)`` seconds), so most of its frames are a cache lookup.
So is bluesky's own cost per frame that no option of ours changes: every plan stub
call made by ``count`` builds a ``bluesky.utils.Plan``, which formats the
caller's stack with ``traceback.format_stack`` (to warn of a plan never iterated);
one extra RunEngine run (the first writer and fsync mode) times those calls.

Target: the RunEngine path reaches at least 0.8x the bare loop's frames/s for
TIFF and HDF5 (ratios below it are marked ``<`` in the table), shown for both
RunEngine paths and for the ophyd-async camera.

Run it with the project's virtualenv::

    .venv/bin/python benchmarks/frames.py                  # defaults, a few minutes
    .venv/bin/python benchmarks/frames.py --frames 20 --size 256 --repeat 1
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import tifffile
import zarr
from bluesky import RunEngine
from bluesky import plan_stubs as bps
from bluesky import preprocessors as bpp
from bluesky.plans import count
from ophyd.sim import SynSignalWithRegistry
from ophyd_async.core import StaticPathProvider, TriggerInfo, UUIDFilenameProvider, init_devices
from ophyd_async.sim import SimBlobDetector

from bluesky_timelapse.async_devices import AsyncSimCamera
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.sources import GardenScene
from bluesky_timelapse.storage import FrameFormat, writer_for
from machine import aligned, filesystem_of, package_version

WRITERS: tuple[str, ...] = ("tiff", "hdf5", "zarr", "npy")
TARGET_RATIO = 0.8
TARGET_WRITERS: tuple[str, ...] = ("tiff", "hdf5")
HDF5_DATASET = "/entry/data/data"
DAY = 86_400.0
WARM_UP_FRAMES = 10

WRITE_QUEUE = 8
"""Frames the write-behind RunEngine path lets wait for the disk."""

BLOB_SHAPE = (240, 320)
"""SimBlobDetector's frame shape (``uint8``), fixed by ophyd-async."""
BLOB_FRAME_BYTES = BLOB_SHAPE[0] * BLOB_SHAPE[1]
BLOB_LIVETIME = 1e-4
"""Seconds of SimBlobDetector's prepared livetime: its frame period, as short as it goes."""

PATHS: tuple[str, ...] = (
    "bare",
    "writer",
    "runengine",
    "queued",
    "process",
    "async",
    "ophyd",
    "blob",
)
"""The measured paths, in the order they run within one repeat."""

Frames = Sequence[np.ndarray]
Measurement = Callable[[Path], float]
"""Runs one measurement in a fresh empty directory, returns the timed seconds."""


# --- bare loops: the library alone, same layout and durability as our writers ---------


def _fsync_fd_of(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def bare_tiff(directory: Path, frames: Frames, fsync: bool) -> None:
    """One ``tifffile.imwrite`` per frame into a file created exclusively."""
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        for index, frame in enumerate(frames):
            with open(directory / f"bare_{index:06d}.tiff", "xb") as file:
                tifffile.imwrite(file, frame, photometric="minisblack")
                if fsync:
                    file.flush()
                    os.fsync(file.fileno())
            if fsync:
                os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def bare_hdf5(directory: Path, frames: Frames, fsync: bool) -> None:
    """A chunked resizable SWMR dataset: resize, write and flush per frame."""
    shape, dtype = frames[0].shape, frames[0].dtype
    with h5py.File(directory / "bare.h5", "w-", libver="latest") as file:
        dataset = file.create_dataset(
            HDF5_DATASET,
            shape=(0, *shape),
            maxshape=(None, *shape),
            chunks=(1, *shape),
            dtype=dtype,
        )
        file.swmr_mode = True
        handle = file.id.get_vfd_handle() if fsync else None
        for index, frame in enumerate(frames):
            dataset.resize(index + 1, axis=0)
            dataset[index] = frame
            dataset.flush()
            if handle is not None:
                os.fsync(handle)
    if fsync:
        _fsync_fd_of(directory / "bare.h5")


def bare_zarr(directory: Path, frames: Frames, fsync: bool) -> None:
    """A Zarr v3 array in a group, one frame per chunk: resize and write per frame.

    With fsync, the frame's chunk file, its directories, the array metadata and the
    array directories are synced, as :class:`ZarrWriter` does.
    """
    shape, dtype = frames[0].shape, frames[0].dtype
    group = zarr.open_group(directory / "bare.zarr", mode="w-", zarr_format=3)
    array = group.create_array(
        "data",
        shape=(0, *shape),
        chunks=(1, *shape),
        dtype=dtype,
        fill_value=0,
        compressors=None,
        config={"write_empty_chunks": True},
    )
    array_dir = directory / "bare.zarr" / "data"
    trailing_chunk_key = ("0",) * len(shape)
    for index, frame in enumerate(frames):
        array.resize((index + 1, *shape))
        array[index] = frame
        if fsync:
            chunk = array_dir.joinpath("c", str(index), *trailing_chunk_key)
            _fsync_fd_of(chunk)
            for parent in chunk.parents:
                _fsync_fd_of(parent)
                if parent == array_dir:
                    break
            _fsync_fd_of(array_dir / "zarr.json")


def bare_npy(directory: Path, frames: Frames, fsync: bool) -> None:
    """One ``numpy.save`` per frame into a file created exclusively."""
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        for index, frame in enumerate(frames):
            with open(directory / f"bare_{index}.npy", "xb") as file:
                np.save(file, frame, allow_pickle=False)
                if fsync:
                    file.flush()
                    os.fsync(file.fileno())
            if fsync:
                os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


BARE_LOOPS: dict[str, Callable[[Path, Frames, bool], None]] = {
    "tiff": bare_tiff,
    "hdf5": bare_hdf5,
    "zarr": bare_zarr,
    "npy": bare_npy,
}


def writer_loop(name: str, directory: Path, frames: Frames, fsync: bool) -> None:
    """Our writer, opened, fed the frames in a plain loop, and closed."""
    writer = writer_for(name, fsync=fsync)
    writer.open(directory, "writer")
    try:
        for frame in frames:
            writer.append(frame)
    finally:
        writer.close()


# --- the RunEngine paths ---------------------------------------------------------------


class DocumentCounter:
    """The cheapest useful RunEngine callback: counts documents by name."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def expect_events(self, n: int, what: str, datum: str = "datum", per_event: int = 1) -> None:
        """Raise unless the last run emitted ``n`` events and ``n * per_event`` ``datum`` docs."""
        events, datums = self.counts.get("event", 0), self.counts.get(datum, 0)
        if events != n or datums != n * per_event:
            raise RuntimeError(
                f"{what}: expected {n} events and {n * per_event} {datum} documents, got "
                f"{events} and {datums} (documents: {self.counts})"
            )


def time_camera(
    RE: RunEngine,
    counter: DocumentCounter,
    directory: Path,
    writer: str,
    fsync: bool,
    n: int,
    size: int,
    write_queue: int = 0,
    write_process: bool = False,
) -> float:
    """Seconds of ``RE(count([camera], num=n))`` with a SimCamera writing to ``directory``."""
    camera = SimCamera(
        name="camera",
        root=str(directory),
        write_path_template=str(directory),
        writer=writer,
        writer_options={"fsync": fsync},
        shape=(size, size),
        dtype="uint16",
        colour=False,
        exposure=0.0,
        write_queue=write_queue,
        write_process=write_process,
    )
    if write_process:  # start the writer process before the timing, as a first stage would
        camera.stage()
        camera.unstage()
        for path in directory.iterdir():
            path.unlink()
    counter.counts.clear()
    start = time.perf_counter()
    RE(count([camera], num=n))
    elapsed = time.perf_counter() - start
    counter.expect_events(n, f"SimCamera/{writer}")
    return elapsed


def time_ophyd_sim(
    RE: RunEngine, counter: DocumentCounter, directory: Path, frames: Frames
) -> float:
    """Seconds of ``RE(count([sig], num=n))`` with ophyd.sim's SynSignalWithRegistry."""
    frame_source = itertools.cycle(frames)
    signal = SynSignalWithRegistry(
        name="img", func=lambda: next(frame_source), save_path=str(directory)
    )
    counter.counts.clear()
    start = time.perf_counter()
    RE(count([signal], num=len(frames)))
    elapsed = time.perf_counter() - start
    counter.expect_events(len(frames), "ophyd.sim.SynSignalWithRegistry")
    return elapsed


def time_async_camera(
    RE: RunEngine,
    counter: DocumentCounter,
    directory: Path,
    writer: str,
    fsync: bool,
    n: int,
    size: int,
) -> float:
    """Seconds of ``RE(count([camera], num=n))`` with our ophyd-async AsyncSimCamera."""
    with init_devices():
        camera = AsyncSimCamera(
            StaticPathProvider(UUIDFilenameProvider(), directory),
            writer=writer,
            writer_options={"fsync": fsync},
            shape=(size, size),
            dtype="uint16",
            colour=False,
            exposure=0.0,
            name="camera",
        )
    counter.counts.clear()
    start = time.perf_counter()
    RE(count([camera], num=n))
    elapsed = time.perf_counter() - start
    counter.expect_events(n, f"AsyncSimCamera/{writer}", datum="stream_datum")
    return elapsed


def prepared_count(detector: SimBlobDetector, n: int) -> Any:
    """``count``'s plan, with a ``prepare`` after stage: SimBlobDetector's pace is its livetime."""

    @bpp.stage_decorator([detector])
    @bpp.run_decorator()
    def inner() -> Any:
        yield from bps.prepare(detector, TriggerInfo(livetime=BLOB_LIVETIME), wait=True)
        for _ in range(n):
            yield from bps.checkpoint()
            yield from bps.trigger_and_read([detector])

    return (yield from inner())


def time_sim_blob(RE: RunEngine, counter: DocumentCounter, directory: Path, n: int) -> float:
    """Seconds of ``n`` frames of ophyd-async's SimBlobDetector (HDF5) under the RunEngine."""
    with init_devices():
        detector = SimBlobDetector(
            StaticPathProvider(UUIDFilenameProvider(), directory), name="blob"
        )
    counter.counts.clear()
    start = time.perf_counter()
    RE(prepared_count(detector, n))
    elapsed = time.perf_counter() - start
    # two data keys, the frame and its sum: two StreamDatum documents per event
    counter.expect_events(n, "SimBlobDetector", datum="stream_datum", per_event=2)
    return elapsed


# --- harness ---------------------------------------------------------------------------


def render_frames(size: int, n: int) -> tuple[list[np.ndarray], float, float]:
    """Render ``n`` frames spread over a scene day with the camera's scene.

    Returns the frames and the seconds per frame of a first (cold cache) and of a
    second (warm cache) rendering pass.
    """
    scene = GardenScene(FrameFormat((size, size), np.dtype("uint16")))
    times = [DAY * index / n for index in range(n)]
    start = time.perf_counter()
    frames = [scene.render(t) for t in times]
    cold = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for t in times:
        scene.render(t)
    warm = (time.perf_counter() - start) / n
    return frames, cold, warm


def render_in_real_time(size: int, n: int) -> float:
    """Seconds per frame of ``n`` renders a millisecond apart, as a camera at ``time_scale=1``."""
    scene = GardenScene(FrameFormat((size, size), np.dtype("uint16")))
    noon = DAY / 2
    scene.render(noon)
    start = time.perf_counter()
    for index in range(n):
        scene.render(noon + index * 1e-3)
    return (time.perf_counter() - start) / n


def timed_loop(loop: Callable[[Path], None]) -> Measurement:
    """Wrap a loop into a measurement that times the whole loop."""

    def measure(directory: Path) -> float:
        start = time.perf_counter()
        loop(directory)
        return time.perf_counter() - start

    return measure


def measurements(
    writer: str,
    fsync: bool,
    frames: Frames,
    size: int,
    RE: RunEngine,
    counter: DocumentCounter,
) -> dict[str, Measurement]:
    """The measurements of one table row, keyed by path (see :data:`PATHS`)."""
    bare = BARE_LOOPS[writer]
    row: dict[str, Measurement] = {
        "bare": timed_loop(lambda d: bare(d, frames, fsync)),
        "writer": timed_loop(lambda d: writer_loop(writer, d, frames, fsync)),
        "runengine": lambda d: time_camera(RE, counter, d, writer, fsync, len(frames), size),
        "queued": lambda d: time_camera(
            RE, counter, d, writer, fsync, len(frames), size, write_queue=WRITE_QUEUE
        ),
        "process": lambda d: time_camera(
            RE,
            counter,
            d,
            writer,
            fsync,
            len(frames),
            size,
            write_queue=WRITE_QUEUE,
            write_process=True,
        ),
        "async": lambda d: time_async_camera(RE, counter, d, writer, fsync, len(frames), size),
    }
    if writer == "npy" and not fsync:
        row["ophyd"] = lambda d: time_ophyd_sim(RE, counter, d, frames)
    if writer == "hdf5":
        row["blob"] = lambda d: time_sim_blob(RE, counter, d, len(frames))
    return row


def run_in_fresh_directory(measure: Measurement, tmpdir: str | None) -> float:
    """Run ``measure`` in a new temporary directory, after syncing earlier writes."""
    with tempfile.TemporaryDirectory(dir=tmpdir, prefix="bt-frames-") as directory:
        os.sync()
        return measure(Path(directory))


def plan_stack_cost(
    RE: RunEngine,
    counter: DocumentCounter,
    writer: str,
    fsync: bool,
    n: int,
    size: int,
    tmpdir: str | None,
) -> tuple[float, float, float]:
    """bluesky's own cost per frame in the RunEngine path: ``traceback.format_stack``.

    Every call of a plan stub decorated with ``bluesky.utils.plan`` (``trigger_and_read``,
    ``one_shot``...) builds a ``Plan``, which formats the caller's stack (to warn of a
    plan never iterated). Returns its calls per frame, its seconds per frame, and the
    RunEngine path's seconds per frame, from one ``count`` with it timed.
    """
    spent = [0, 0.0]
    format_stack = traceback.format_stack

    def timed(*args: Any, **kwargs: Any) -> list[str]:
        began = time.perf_counter()
        try:
            return format_stack(*args, **kwargs)
        finally:
            spent[0] += 1
            spent[1] += time.perf_counter() - began

    def measure(directory: Path) -> float:
        return time_camera(RE, counter, directory, writer, fsync, n, size)

    traceback.format_stack = timed  # type: ignore[assignment]
    try:
        seconds = run_in_fresh_directory(measure, tmpdir)
    finally:
        traceback.format_stack = format_stack
    return spent[0] / n, spent[1] / n, seconds / n


def warm_up(
    writers: Sequence[str],
    fsync_modes: Sequence[bool],
    frames: Frames,
    size: int,
    RE: RunEngine,
    counter: DocumentCounter,
    tmpdir: str | None,
) -> None:
    """Run every measurement once, untimed, on a few frames: first-use costs go here."""
    few = frames[:WARM_UP_FRAMES]
    for writer in writers:
        for fsync in fsync_modes:
            for measure in measurements(writer, fsync, few, size, RE, counter).values():
                run_in_fresh_directory(measure, tmpdir)


def machine_facts(tmpdir: str) -> list[str]:
    """Lines describing the interpreter, libraries, CPUs and the temp filesystem."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    libraries = ", ".join(
        f"{name} {package_version(name)}"
        for name in ("numpy", "tifffile", "h5py", "zarr", "bluesky", "ophyd", "ophyd-async")
    )
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"python    {platform.python_version()} ({sys.executable})",
        f"platform  {platform.platform()}",
        f"libraries {libraries}, HDF5 {h5py.version.hdf5_version}",
        f"cpus      {os.cpu_count()} ({usable} usable), load average {load} (at the end)",
        f"tmp       {filesystem_of(tmpdir)}",
    ]


def format_table(
    writers: Sequence[str],
    fsync_modes: Sequence[bool],
    results: dict[tuple[str, bool], dict[str, list[float]]],
    frame_bytes: int,
) -> list[str]:
    """The results table: median frames/s per path, the ratios and MB/s."""
    header = (
        "writer",
        "fsync",
        "bare fr/s",
        "writer fr/s",
        "RunEngine fr/s",
        "RE/bare",
        "write-behind fr/s",
        "WB/bare",
        "WB process fr/s",
        "WBP/bare",
        "ophyd.sim fr/s",
        "RE MB/s",
        "async fr/s",
        "async/bare",
        "async MB/s",
        "SimBlob fr/s",
        "SimBlob MB/s",
    )
    rows: list[tuple[str, ...]] = [header]
    for writer in writers:
        for fsync in fsync_modes:
            rates = {path: statistics.median(v) for path, v in results[writer, fsync].items()}
            ratios = [
                rates[path] / rates["bare"] for path in ("runengine", "queued", "async", "process")
            ]
            marks = [
                " <" if writer in TARGET_WRITERS and ratio < TARGET_RATIO else "  "
                for ratio in ratios
            ]
            rows.append(
                (
                    writer,
                    "on" if fsync else "off",
                    f"{rates['bare']:.1f}",
                    f"{rates['writer']:.1f}",
                    f"{rates['runengine']:.1f}",
                    f"{ratios[0]:.2f}{marks[0]}",
                    f"{rates['queued']:.1f}",
                    f"{ratios[1]:.2f}{marks[1]}",
                    f"{rates['process']:.1f}",
                    f"{ratios[3]:.2f}{marks[3]}",
                    f"{rates['ophyd']:.1f}" if "ophyd" in rates else "n/a",
                    f"{rates['runengine'] * frame_bytes / 1e6:.1f}",
                    f"{rates['async']:.1f}",
                    f"{ratios[2]:.2f}{marks[2]}",
                    f"{rates['async'] * frame_bytes / 1e6:.1f}",
                    f"{rates['blob']:.1f}" if "blob" in rates else "n/a",
                    f"{rates['blob'] * BLOB_FRAME_BYTES / 1e6:.1f}" if "blob" in rates else "n/a",
                )
            )
    return aligned(rows, text_columns=2)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--frames", type=int, default=200, help="frames per measurement (default: %(default)s)"
    )
    parser.add_argument(
        "--size",
        type=int,
        default=1024,
        help="frames are SIZE x SIZE uint16 (default: %(default)s)",
    )
    parser.add_argument(
        "--writers",
        nargs="+",
        default=list(WRITERS),
        help=f"writers to measure, space- or comma-separated (default: {' '.join(WRITERS)})",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="repeats; the median is shown (default: %(default)s)"
    )
    durability = parser.add_mutually_exclusive_group()
    durability.add_argument(
        "--fsync",
        dest="fsync_modes",
        action="store_const",
        const=(True,),
        help="only with fsync on (default: both modes)",
    )
    durability.add_argument(
        "--no-fsync",
        dest="fsync_modes",
        action="store_const",
        const=(False,),
        help="only with fsync off (default: both modes)",
    )
    parser.set_defaults(fsync_modes=(True, False))
    parser.add_argument(
        "--tmpdir", default=None, help="where the temporary directories go (default: system tmp)"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also print every repeat's frames/s"
    )
    args = parser.parse_args(argv)
    args.writers = [name for item in args.writers for name in item.split(",") if name]
    unknown = sorted(set(args.writers) - set(WRITERS))
    if unknown:
        parser.error(f"unknown writer(s) {', '.join(unknown)}; allowed: {', '.join(WRITERS)}")
    for option in ("frames", "size", "repeat"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the machine facts and the results table."""
    args = parse_args(argv)
    tmpdir = args.tmpdir or tempfile.gettempdir()
    n, size = args.frames, args.size

    frames, render_cold, render_warm = render_frames(size, n)
    render_same = render_in_real_time(size, n)
    frame_bytes = frames[0].nbytes

    RE = RunEngine({})
    counter = DocumentCounter()
    RE.subscribe(counter)

    results: dict[tuple[str, bool], dict[str, list[float]]] = {
        (writer, fsync): {} for writer in args.writers for fsync in args.fsync_modes
    }
    warm_up(args.writers, args.fsync_modes, frames, size, RE, counter, args.tmpdir)
    for repeat in range(args.repeat):
        for writer in args.writers:
            for fsync in args.fsync_modes:
                row = measurements(writer, fsync, frames, size, RE, counter)
                for path in PATHS:
                    if path not in row:
                        continue
                    seconds = run_in_fresh_directory(row[path], args.tmpdir)
                    results[writer, fsync].setdefault(path, []).append(n / seconds)
                    print(
                        f"[{repeat + 1}/{args.repeat}] {writer:<4} fsync "
                        f"{'on ' if fsync else 'off'} {path:<9} {n / seconds:8.1f} fr/s",
                        file=sys.stderr,
                        flush=True,
                    )

    stack_calls, stack_seconds, frame_seconds = plan_stack_cost(
        RE, counter, args.writers[0], args.fsync_modes[0], n, size, args.tmpdir
    )

    print("\n".join(machine_facts(tmpdir)))
    print(
        f"frames    {n} x {size}x{size} uint16 ({frame_bytes / 1e6:.2f} MB each), "
        f"median of {args.repeat} repeat(s)"
    )
    print(
        f"render    {render_warm * 1e3:.2f} ms/frame, a new picture each, background cached "
        f"({render_cold * 1e3:.2f} ms/frame on the first, cold pass); "
        f"{render_same * 1e3:.3f} ms/frame at time_scale=1 (the sun moves a pixel every "
        f"{DAY / (2 * size):.0f} s); the RunEngine path renders, the loops do not"
    )
    print(
        f"bluesky   {stack_seconds * 1e3:.2f} ms/frame formatting stack traces "
        f"({stack_calls:.0f} Plan objects a frame, each calls traceback.format_stack), of "
        f"{frame_seconds * 1e3:.2f} ms/frame in the RunEngine path "
        f"({args.writers[0]}, fsync {'on' if args.fsync_modes[0] else 'off'}, one extra run)"
    )
    print()
    print("\n".join(format_table(args.writers, args.fsync_modes, results, frame_bytes)))
    print()
    print(
        f"target: RunEngine >= {TARGET_RATIO}x bare loop for {' and '.join(TARGET_WRITERS)}; "
        "'<' marks a miss. MB = 1e6 bytes. ophyd.sim writes NPY without fsync.\n"
        f"write-behind: SimCamera(write_queue={WRITE_QUEUE}), triggers complete at capture; "
        "WB process: the same with write_process=True (writes in a child process).\n"
        "async: our ophyd-async AsyncSimCamera under count(), same frames and writer.\n"
        f"SimBlob: ophyd_async.sim.SimBlobDetector, HDF5 without fsync, {BLOB_SHAPE[0]}x"
        f"{BLOB_SHAPE[1]} uint8 frames ({BLOB_FRAME_BYTES / 1e3:.1f} kB each, not the size "
        f"above),\n         prepared with livetime {BLOB_LIVETIME:g} s; compare its MB/s too."
    )
    if args.verbose:
        print()
        for (writer, fsync), paths in results.items():
            for path, rates in paths.items():
                runs = " ".join(f"{rate:.1f}" for rate in rates)
                print(f"{writer:<4} fsync {'on ' if fsync else 'off'} {path:<9} {runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
