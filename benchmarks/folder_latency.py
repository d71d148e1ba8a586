"""Folder camera latency: from a file's close to its event, three ways to notice the file.

Another program (here a writer thread) drops small JPEG files into a folder, one at
a time; a ``RunEngine({})`` runs ``count([camera], num=N)`` with a
:class:`~bluesky_timelapse.devices.FolderCamera` in mode ``"next"`` (each trigger
completes with the first file completed after it). Three peers, side by side in
one run, each in its own fresh temporary directory and on its own RunEngine:

watchdog
    ``FolderCamera(...)`` with its defaults: inotify through :mod:`watchdog`; a file
    counts as complete at its close-after-write event.
polling
    ``FolderCamera(..., use_polling=True)`` with its default ``poll_interval`` and
    ``settle_time`` (read from its signature and printed with the table): the
    folder is scanned every ``poll_interval`` seconds, and a new file counts once
    its size and modification time have not changed for ``settle_time`` seconds.
asi_core emulation
    How asi_core's image folder monitor notices files in its polling mode
    (``start_image_polling``, default ``polling_interval=2``): a plain-Python loop
    that sleeps 2 s, lists the folder, and hands on every image name that was not
    in the previous listing, with no check that the file is complete. It replaces
    the detection of the same ``FolderCamera`` (its source's ``watch``) and calls
    the camera's own arrival handler, so the trigger, the file's reading, the
    Resource and Datum, the RunEngine and the documents are the same as in the two
    peers above: only the detection differs. The loop sleeps *between* passes, as
    a ``while True: time.sleep(interval)`` loop does, so its period is 2 s plus
    a pass. The table counts the files it saw before they were complete
    ("partial": smaller at detection than when closed).

Method: trigger-and-wait. The writer thread waits until the RunEngine has sent the
camera its ``trigger`` (``RE.msg_hook``), sleeps a random pause, writes the next
file (a pre-encoded 640x480 RGB JPEG of about 37 kB, written in 16 KiB chunks
through an unbuffered file, then closed; no fsync, as camera software does not)
and takes ``time.time()`` right before the ``close()`` call (taken after it,
it can come later than the event: the closing thread may wait for the interpreter
lock while the threads that noticed the close hold it); then it waits for that file's
event document before the next file. A callback subscribed to the RunEngine takes
``time.time()`` when the event document arrives; the latency is that arrival
minus the file's close. (The reading's own timestamp is the file's modification
time, which is when the file was written, not when it was noticed.) The event
must name the file just written; the run fails otherwise.

The pause is drawn uniformly from 20 ms to 100 ms for the watchdog peer and from
20 ms to one poll period for the polling peers: a writer that waits for each event
and then writes at once would lock to the poller's phase and every file would wait
the same time, while a camera's clock is independent of the folder's watcher.
The first file of each peer is a warm-up (the first trigger's stage and the
descriptor) and is left out of the statistics.

The polling peers cost about a second per file, so they take fewer files
(``--slow-files``, default 60) than the watchdog peer (``--files``, default 200);
the table says how many each took. The default run takes about four minutes.

Target: watchdog p99 latency <= 200 ms (a miss is marked ``<`` in the table).

Run it with the project's virtualenv::

    .venv/bin/python benchmarks/folder_latency.py                # defaults
    .venv/bin/python benchmarks/folder_latency.py --files 30 --slow-files 10
"""

from __future__ import annotations

import argparse
import inspect
import io
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bluesky import RunEngine
from bluesky.plans import count
from PIL import Image

from bluesky_timelapse.devices import FolderCamera
from bluesky_timelapse.sources import FolderWatch
from machine import aligned, filesystem_of, package_version, percentile

PEERS: tuple[str, ...] = ("watchdog", "polling", "asi_core")
TARGET_P99 = 0.200
"""Seconds: the watchdog peer's p99 latency target."""
ASI_CORE_INTERVAL = 2.0
"""asi_core's default ``polling_interval`` (seconds)."""
ASI_CORE_EXTENSIONS = (".jpg", ".jpeg", ".png")
"""The image names asi_core's monitor reacts to."""
WATCHDOG_PAUSE = (0.02, 0.10)
"""Seconds: the writer's random pause before each file for the watchdog peer."""
MIN_PAUSE = 0.02
IMAGE_SIZE = (640, 480)
IMAGE_VARIANTS = 8
CHUNK = 16 * 1024
WAIT_FOR_EVENT = 30.0
"""Seconds the writer waits for a file's event before giving up on the run."""
TEMPLATE_NAME = "image_{index:d}.jpg"


def folder_camera_default(parameter: str) -> Any:
    """The default of one of :class:`FolderCamera`'s keyword arguments."""
    return inspect.signature(FolderCamera).parameters[parameter].default


POLL_INTERVAL: float = folder_camera_default("poll_interval")
SETTLE_TIME: float = folder_camera_default("settle_time")


# --- the asi_core emulation ------------------------------------------------------------


class AsiCorePoller(FolderWatch):
    """Notice new images as asi_core's polling monitor does: list the folder every interval.

    Replaces a :class:`FolderCamera`'s folder watch and reports to the same
    ``on_complete``; only ``start``, ``stop`` and ``running`` differ from a
    :class:`FolderWatch`. Every pass lists the pattern's folder and reports each
    image name (``.jpg``, ``.jpeg``, ``.png``) not in the previous listing, at once:
    no completeness check. The size of each file when it was reported is kept in
    ``sizes``.
    """

    def __init__(self, watch: FolderWatch, interval: float) -> None:
        super().__init__(
            watch.pattern,
            watch.on_complete,
            use_polling=True,
            poll_interval=interval,
            settle_time=watch.settle_time,
        )
        self.sizes: dict[Path, int] = {}
        self._stop = threading.Event()
        self._loop_thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the loop runs."""
        return self._loop_thread is not None

    def _listing(self) -> set[str]:
        root = self.pattern.root
        return {name for name in os.listdir(root) if name.lower().endswith(ASI_CORE_EXTENSIONS)}

    def start(self) -> None:
        """Take the current listing as known and start the loop."""
        self._stop.clear()
        known = self._listing()
        self._loop_thread = threading.Thread(
            target=self._loop, args=(known,), name="asi-core-poll", daemon=True
        )
        self._loop_thread.start()

    def stop(self) -> None:
        """Stop the loop; safe to call twice."""
        self._stop.set()
        if self._loop_thread is not None:
            self._loop_thread.join()
            self._loop_thread = None

    def _loop(self, known: set[str]) -> None:
        while not self._stop.wait(self.poll_interval):
            listing = self._listing()
            for name in sorted(listing - known):
                path = self.pattern.root / name
                try:
                    self.sizes[path] = path.stat().st_size
                except OSError:
                    continue
                self.on_complete(path)
            known = listing


# --- one peer --------------------------------------------------------------------------


@dataclass
class PeerResult:
    """What one peer measured."""

    peer: str
    files: int
    latencies: list[float] = field(default_factory=list)
    """Seconds from close to the event's arrival, warm-up file excluded."""
    wall: float = 0.0
    partial: int | None = None
    error: str | None = None


def encode_images(seed: int) -> list[bytes]:
    """A few distinct JPEGs (a gradient with noise), encoded once, before any timing."""
    rng = np.random.default_rng(seed)
    width, height = IMAGE_SIZE
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    images = []
    for variant in range(IMAGE_VARIANTS):
        red = (x + 16 * variant) % 256 + 0 * y
        green = (y + 8 * variant) % 256 + 0 * x
        blue = rng.integers(0, 48, (height, width)).astype(np.float32) + 100
        pixels = np.stack([red, green, blue], axis=-1).clip(0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=90)
        images.append(buffer.getvalue())
    return images


def write_in_chunks(path: Path, data: bytes) -> float:
    """Write ``data`` to a new file in chunks and close it; return ``time.time()`` at the close.

    The time is taken right before ``close()``: after it, the writer thread may wait
    for the interpreter lock while the threads that notice the close hold it, so a
    time taken then can come after the event it should precede.
    """
    file = open(path, "xb", buffering=0)  # noqa: SIM115 - closed below, timed
    try:
        for start in range(0, len(data), CHUNK):
            file.write(data[start : start + CHUNK])
    finally:
        closed = time.time()
        file.close()
    return closed


def make_camera(
    peer: str, directory: Path, state_dir: Path
) -> tuple[FolderCamera, AsiCorePoller | None]:
    """The peer's camera over ``directory/camera``, its state file in ``state_dir``.

    The state file outlives the folder: the camera records each file used after
    the trigger has completed, on its own thread.
    """
    folder = directory / "camera"
    folder.mkdir()
    camera = FolderCamera(
        name="camera",
        template=str(folder / TEMPLATE_NAME),
        mode="next",
        use_polling=peer == "polling",
        state_file=state_dir / f"{peer}.json",
    )
    poller = None
    if peer == "asi_core":
        poller = AsiCorePoller(camera.frame_source.watch, ASI_CORE_INTERVAL)
        camera.frame_source.watch = poller  # the emulated detection reports where the camera's did
    return camera, poller


def pause_range(peer: str) -> tuple[float, float]:
    """The writer's random pause before each file, in seconds."""
    if peer == "watchdog":
        return WATCHDOG_PAUSE
    return MIN_PAUSE, ASI_CORE_INTERVAL if peer == "asi_core" else POLL_INTERVAL


def measure_peer(
    peer: str,
    files: int,
    images: Sequence[bytes],
    seed: int,
    tmpdir: str | None,
    state_dir: Path,
) -> PeerResult:
    """Run ``count([camera], num=files + 1)`` while a writer thread drops the files."""
    result = PeerResult(peer, files)
    rng = random.Random(f"{seed}-{peer}")
    low, high = pause_range(peer)
    total = files + 1  # the first is a warm-up
    with tempfile.TemporaryDirectory(dir=tmpdir, prefix="bt-folder-") as name:
        directory = Path(name)
        camera, poller = make_camera(peer, directory, state_dir)
        closes: dict[str, float] = {}
        final_sizes: dict[Path, int] = {}
        arrivals: dict[str, float] = {}
        event_files: list[str] = []
        armed, arrived, stop = threading.Event(), threading.Event(), threading.Event()
        writer_errors: list[str] = []

        def on_document(name: str, doc: dict[str, Any]) -> None:
            if name == "event":
                arrivals[doc["data"]["camera_file"]] = time.time()
                event_files.append(doc["data"]["camera_file"])
                arrived.set()

        def on_message(msg: Any) -> None:
            if msg.command == "trigger":
                armed.set()

        def writer() -> None:
            for index in range(total):
                if not armed.wait(WAIT_FOR_EVENT) or stop.is_set():
                    writer_errors.append(f"no trigger before file {index}")
                    return
                armed.clear()
                time.sleep(rng.uniform(low, high))
                path = camera.pattern.root / f"image_{index}.jpg"
                data = images[index % len(images)]
                closes[str(path)] = write_in_chunks(path, data)
                final_sizes[path] = len(data)
                if not arrived.wait(WAIT_FOR_EVENT) or stop.is_set():
                    writer_errors.append(f"no event for {path.name} in {WAIT_FOR_EVENT:g} s")
                    return
                arrived.clear()

        RE = RunEngine({})
        RE.subscribe(on_document)
        RE.msg_hook = on_message
        thread = threading.Thread(target=writer, name="folder-writer", daemon=True)
        thread.start()
        start = time.perf_counter()
        try:
            RE(count([camera], num=total))
        except Exception as err:  # reported in the table; the other peers still run
            result.error = f"{type(err).__name__}: {err}"
        finally:
            result.wall = time.perf_counter() - start
            stop.set()
            armed.set()
            arrived.set()
            thread.join()
        if result.error is None and writer_errors:
            result.error = writer_errors[0]
        expected = [str(camera.pattern.root / f"image_{index}.jpg") for index in range(total)]
        if result.error is None and event_files != expected:
            result.error = "the events do not name the files in the order they were written"
        if result.error is None:
            result.latencies = [arrivals[path] - closes[path] for path in expected[1:]]
        if poller is not None:
            result.partial = sum(
                1 for path, size in poller.sizes.items() if size < final_sizes.get(path, 0)
            )
    return result


# --- harness ---------------------------------------------------------------------------


def inotify_limits() -> str:
    """The inotify limits, from /proc/sys/fs/inotify."""
    values = []
    for limit in ("max_user_watches", "max_user_instances"):
        try:
            values.append(f"{limit} {Path('/proc/sys/fs/inotify', limit).read_text().strip()}")
        except OSError:
            values.append(f"{limit} ?")
    return ", ".join(values)


def machine_facts(tmpdir: str) -> list[str]:
    """Lines describing the interpreter, libraries, CPUs, load and the temp filesystem."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    libraries = ", ".join(
        f"{name} {package_version(name)}"
        for name in ("bluesky", "ophyd", "event-model", "watchdog", "pillow", "tifffile")
    )
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"python    {platform.python_version()} ({sys.executable})",
        f"platform  {platform.platform()}",
        f"libraries {libraries}",
        f"cpus      {os.cpu_count()} ({usable} usable), load average {load} (at the end)",
        f"inotify   {inotify_limits()}",
        f"clock     time.time resolution {time.get_clock_info('time').resolution * 1e9:.0f} ns",
        f"tmp       {filesystem_of(tmpdir)}",
    ]


DETECTION: dict[str, str] = {
    "watchdog": "inotify (close-after-write)",
    "polling": f"scan every {POLL_INTERVAL:g} s + settle {SETTLE_TIME:g} s",
    "asi_core": f"list every {ASI_CORE_INTERVAL:g} s, no settle",
}


def format_table(results: Sequence[PeerResult]) -> list[str]:
    """The results table: latency statistics per peer, misses marked ``<``."""
    header = (
        "peer",
        "detection",
        "files",
        "p50 ms",
        "p99 ms",
        "max ms",
        "mean ms",
        "x watchdog p50",
        "wall s",
        "partial",
    )
    rows: list[tuple[str, ...]] = [header]
    baseline = next(
        (percentile(r.latencies, 0.5) for r in results if r.peer == "watchdog" and r.latencies),
        None,
    )
    for result in results:
        partial = "n/a" if result.partial is None else str(result.partial)
        if not result.latencies:
            rows.append(
                (result.peer, DETECTION[result.peer], str(result.files), "failed")
                + ("",) * 4
                + (f"{result.wall:.1f}", partial)
            )
            continue
        ms = [value * 1e3 for value in result.latencies]
        p99 = percentile(ms, 0.99)
        mark = " <" if result.peer == "watchdog" and p99 > TARGET_P99 * 1e3 else "  "
        p50 = percentile(ms, 0.50)
        rows.append(
            (
                result.peer,
                DETECTION[result.peer],
                str(len(ms)),
                f"{p50:.1f}",
                f"{p99:.1f}{mark}",
                f"{max(ms):.1f}",
                f"{statistics.fmean(ms):.1f}",
                f"{p50 / (baseline * 1e3):.1f}" if baseline else "n/a",
                f"{result.wall:.1f}",
                partial,
            )
        )
    return aligned(rows, text_columns=2)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--files",
        type=int,
        default=200,
        help="files for the watchdog peer, besides a warm-up file (default: %(default)s)",
    )
    parser.add_argument(
        "--slow-files",
        type=int,
        default=60,
        help="files for each polling peer, besides a warm-up file (default: %(default)s)",
    )
    parser.add_argument(
        "--peers",
        nargs="+",
        default=list(PEERS),
        help=f"peers to measure, space- or comma-separated (default: {' '.join(PEERS)})",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the pauses and images (default: %(default)s)"
    )
    parser.add_argument(
        "--tmpdir", default=None, help="where the temporary directories go (default: system tmp)"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also print every file's latency"
    )
    args = parser.parse_args(argv)
    args.peers = [name for item in args.peers for name in item.split(",") if name]
    unknown = sorted(set(args.peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; allowed: {', '.join(PEERS)}")
    for option in ("files", "slow_files"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the machine facts and the results table."""
    args = parse_args(argv)
    tmpdir = args.tmpdir or tempfile.gettempdir()
    images = encode_images(args.seed)
    load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())

    results = []
    with tempfile.TemporaryDirectory(dir=args.tmpdir, prefix="bt-folder-state-") as state_dir:
        for peer in args.peers:
            files = args.files if peer == "watchdog" else args.slow_files
            print(f"{peer}: {files} files (+1 warm-up) ...", file=sys.stderr, flush=True)
            result = measure_peer(peer, files, images, args.seed, args.tmpdir, Path(state_dir))
            if result.error:
                print(f"{peer}: failed: {result.error}", file=sys.stderr, flush=True)
            results.append(result)
        time.sleep(0.5)  # the last camera records its last file after the last event

    print("\n".join(machine_facts(tmpdir)))
    print(f"load      {load_before} at the start")
    sizes = [len(image) for image in images]
    print(
        f"files     {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} RGB JPEG, {min(sizes) / 1e3:.0f}-"
        f"{max(sizes) / 1e3:.0f} kB, written in {CHUNK // 1024} KiB chunks, no fsync; "
        "one at a time, each after the previous file's event"
    )
    print(
        f"polling   FolderCamera defaults poll_interval={POLL_INTERVAL:g} s, "
        f"settle_time={SETTLE_TIME:g} s; asi_core emulation polling_interval="
        f"{ASI_CORE_INTERVAL:g} s"
    )
    print(
        f"pause     uniform {WATCHDOG_PAUSE[0] * 1e3:.0f}-{WATCHDOG_PAUSE[1] * 1e3:.0f} ms "
        f"(watchdog), {MIN_PAUSE * 1e3:.0f} ms to one poll period (polling peers)"
    )
    print()
    print("\n".join(format_table(results)))
    print()
    print(
        "latency: time.time() at the event document's arrival in a RunEngine callback minus "
        "time.time() right before the file's close();\nthe first file of each peer (warm-up) is left out. "
        f"target: watchdog p99 <= {TARGET_P99 * 1e3:.0f} ms; '<' marks a miss. "
        "partial: files the asi_core\nemulation reported before they were complete."
    )
    for result in results:
        if result.error:
            print(f"{result.peer} failed: {result.error}")
    if args.verbose:
        print()
        for result in results:
            print(f"{result.peer:<8} " + " ".join(f"{s * 1e3:.1f}" for s in result.latencies))
    return 0 if all(result.error is None for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
