"""Image files written the way a camera's program writes them: slowly, in chunks."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image

from bluesky_timelapse.devices import FolderCamera

TEMPLATE = "{camera_name}/%Y/%m/%d/{timestamp:%Y%m%d%H%M%S}_{exposure_ms:d}.{ext}"
"""Below a test's root: the template of the issue, with a typed exposure."""

EXTENSIONS = {"tiff": "tiff", "jpeg": "jpg", "png": "png"}


def image_bytes(image_format: str, seed: int) -> tuple[bytes, np.ndarray]:
    """An encoded image and the frame a reader decodes from it."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    if image_format == "tiff":
        frame = rng.integers(0, 65535, size=(24, 32), dtype=np.uint16)
        tifffile.imwrite(buffer, frame)
    else:
        frame = rng.integers(0, 255, size=(24, 32, 3), dtype=np.uint8)
        options: dict[str, Any] = {"quality": 95} if image_format == "jpeg" else {}
        Image.fromarray(frame).save(buffer, format=image_format.upper(), **options)
    data = buffer.getvalue()
    if image_format == "jpeg":  # lossy: what is read back is what the file decodes to
        frame = np.asarray(Image.open(io.BytesIO(data)))
    return data, frame


def write_slowly(path: Path, data: bytes, chunks: int = 4, pause: float = 0.05) -> None:
    """Write ``data`` in ``chunks`` writes with pauses between them, then close."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = -(-len(data) // chunks)
    with path.open("wb") as file:
        for start in range(0, len(data), size):
            file.write(data[start : start + size])
            file.flush()
            time.sleep(pause)


class Clock:
    """A settable local clock for the camera."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class AnnouncingCamera(FolderCamera):
    """A FolderCamera that tells a writer thread when a trigger waits."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.triggered = threading.Semaphore(0)

    def trigger(self) -> Any:
        status = super().trigger()
        self.triggered.release()
        return status


@dataclass
class Written:
    """A file the writer thread wrote, with what its name says."""

    path: Path
    frame: np.ndarray
    timestamp: datetime
    exposure_ms: int


@dataclass
class CameraProgram:
    """A thread that writes one file per trigger, like a camera's program.

    Files go to ``root/<camera_name>/<date>/`` with the clock's time in their
    name; the clock crosses midnight half way through.
    """

    root: Path
    image_format: str
    count: int
    clock: Clock
    camera_name: str = "pi-north"
    written: list[Written] = field(default_factory=list)
    error: BaseException | None = None

    def run(self, triggered: threading.Semaphore) -> threading.Thread:
        thread = threading.Thread(target=self._write_all, args=(triggered,), daemon=True)
        thread.start()
        return thread

    def files(self) -> list[tuple[Written, bytes]]:
        """The files to write, in order, and their bytes."""
        midnight = datetime(2025, 6, 2)
        files = []
        for index in range(self.count):
            when = midnight + timedelta(seconds=2 * index - self.count)
            data, frame = image_bytes(self.image_format, index)
            name = f"{when:%Y%m%d%H%M%S}_{10 * (index + 1)}.{EXTENSIONS[self.image_format]}"
            path = self.root / self.camera_name / f"{when:%Y/%m/%d}" / name
            files.append((Written(path, frame, when, 10 * (index + 1)), data))
        return files

    def _write_all(self, triggered: threading.Semaphore) -> None:
        try:
            for written, data in self.files():
                if not triggered.acquire(timeout=120):
                    raise TimeoutError("no trigger came")
                self.clock.now = written.timestamp
                write_slowly(written.path, data)
                self.written.append(written)
        except BaseException as err:
            self.error = err


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Return once ``condition()`` is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)
