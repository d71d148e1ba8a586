"""The demo: a timelapse of a simulated garden, into the embedded Tiled, read back whole.

Everything a rig does, on the defaults: the local Tiled server (a child process on
127.0.0.1), a :class:`~bluesky_timelapse.devices.SimCamera` writing HDF5, the
:func:`~bluesky_timelapse.plans.timelapse` plan with its store, documents going
through a :class:`~bluesky_timelapse.callbacks.TiledSink`, and the result read back
with :func:`~bluesky_timelapse.tiled.load` and checked frame by frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .callbacks import TimelapseProgress
from .plans import timelapse
from .products import contact_sheet, write_video
from .schedules import every
from .session import configure
from .storage import writer_factory
from .tiled import LocalTiled, load

GARDEN_SECONDS_PER_SLOT = 7200.0
"""Scene time between demo slots: two garden hours, so 12 slots show a day."""

DEMO_MIN_FREE = "100MB"
"""The demo's low-disk suspender threshold (a session's default is 1 GB)."""

SINK_TIMEOUT = 120.0
"""Seconds the demo waits for its documents to reach Tiled."""


@dataclass(frozen=True)
class SlotRow:
    """One slot as read back from Tiled."""

    slot: int
    scene_time: float
    brightness: float
    identical: bool


@dataclass(frozen=True)
class DemoReport:
    """What the demo did and found."""

    timelapse_id: str
    slots: int
    rows: list[SlotRow]
    nbytes: int
    frames_directory: Path
    tiled_directory: Path | None
    uri: str
    video: Path
    contact_sheet: Path


def run_demo(
    data_dir: Path,
    *,
    slots: int = 12,
    interval: float = 1.0,
    writer: str = "hdf5",
    tiled_uri: str | None = None,
    keep_serving: Callable[[LocalTiled], None] | None = None,
    progress: bool = True,
) -> DemoReport:
    """Run a ``slots``-slot timelapse ``interval`` seconds apart and check it in Tiled.

    The wiring is a :func:`~bluesky_timelapse.session.configure` session in
    ``data_dir``, as a rig's: frames in ``data_dir/frames``, the sink's journal in
    ``data_dir/journal``, the timelapse store in ``data_dir/timelapses``; all
    persist. Tiled is the embedded server (catalog in ``data_dir/tiled``) unless a
    server is given by ``tiled_uri`` or ``$BLUESKY_TIMELAPSE_TILED_URI`` (with
    ``$TILED_API_KEY``); that server must be able to read ``data_dir/frames``. A video
    and a contact sheet of the timelapse go to ``data_dir/products``.
    ``keep_serving``, if given, is called with the embedded server before it stops.
    """
    writer_factory(writer)  # an unknown writer is refused before anything is written
    session = configure(
        None,
        data_dir=data_dir,
        tiled_uri=tiled_uri,
        tables=False,
        progress=False,
        min_free=DEMO_MIN_FREE,
        log_file=True,
    )
    try:
        camera = session.default_camera(
            "garden",
            write_path_template="%Y/%m/%d",
            writer=writer,
            time_scale=GARDEN_SECONDS_PER_SLOT / interval,
        )
        scene_times: dict[str, float] = {}
        session.RE.subscribe(_scene_time_recorder(scene_times))
        display = TimelapseProgress(bar=partial(tqdm, disable=not progress))
        session.RE.subscribe(display)
        start = datetime.now(UTC) + timedelta(seconds=0.5)
        try:
            result = session.RE(
                timelapse(
                    [camera],
                    every(interval, count=slots, start=start).to_dict(),
                    md={"purpose": "bluesky-timelapse demo"},
                )
            )
        finally:
            display.close()
        timelapse_id: str = result.plan_result
        if not session.sink.flush(SINK_TIMEOUT):
            raise RuntimeError(
                f"the Tiled sink did not forward every document within {SINK_TIMEOUT:.0f} s; "
                f"they stay in {session.paths.journal} for the next session"
            )
        frames = load(session.tiled, timelapse_id).load()  # 12 small frames: read them once
        products = session.paths.products
        products.mkdir(parents=True, exist_ok=True)
        video = write_video(frames, products / f"{timelapse_id}.mp4", fps=4, progress=False)
        sheet = contact_sheet(
            frames,
            products / f"{timelapse_id}.png",
            columns=6,
            caption="{time:%H:%M:%S} slot {slot}",
            progress=False,
        )
        rows = [
            SlotRow(
                slot=int(slot),
                scene_time=scene_times[run_uid],
                brightness=float(frame.mean() / 255),
                identical=bool(np.array_equal(frame, camera.scene.render(scene_times[run_uid]))),
            )
            for slot, run_uid, frame in zip(
                frames["slot"].values, frames["run_uid"].values, frames.values, strict=True
            )
        ]
        if keep_serving is not None and session.server is not None:
            keep_serving(session.server)
        return DemoReport(
            timelapse_id=timelapse_id,
            slots=slots,
            rows=rows,
            nbytes=int(frames.nbytes),
            frames_directory=session.frames_dir,
            tiled_directory=session.server.directory if session.server is not None else None,
            uri=session.tiled_uri,
            video=video,
            contact_sheet=sheet,
        )
    finally:
        session.close(timeout=SINK_TIMEOUT)


def _scene_time_recorder(scene_times: dict[str, float]) -> Callable[[str, Any], None]:
    descriptors: dict[str, str] = {}

    def record(name: str, doc: dict[str, Any]) -> None:
        if name == "descriptor":
            descriptors[doc["uid"]] = doc["run_start"]
        elif name == "event":
            scene_times[descriptors[doc["descriptor"]]] = doc["data"]["garden_scene_time"]

    return record
