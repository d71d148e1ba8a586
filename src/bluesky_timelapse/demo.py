"""The demo: a timelapse of a simulated garden, into the embedded Tiled, read back whole.

Everything a rig does, on the defaults: the local Tiled server (a child process on
127.0.0.1), a :class:`~bluesky_timelapse.devices.SimCamera` writing HDF5, the
:func:`~bluesky_timelapse.plans.timelapse` plan with its store, documents going
through a :class:`~bluesky_timelapse.callbacks.TiledSink`, and the result read back
with :func:`~bluesky_timelapse.tiled.load` and checked frame by frame.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from bluesky import RunEngine
from tqdm import tqdm

from .callbacks import TiledSink, TimelapseProgress
from .devices import SimCamera
from .plans import install_commands, timelapse
from .schedules import every
from .tiled import LocalTiled, connect, load, tiled_settings

GARDEN_SECONDS_PER_SLOT = 7200.0
"""Scene time between demo slots: two garden hours, so 12 slots show a day."""


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

    Frames go to ``data_dir/frames``; the sink's journal lives in
    ``data_dir/journal`` and the timelapse store in ``data_dir/timelapses``; all
    persist. Tiled is the embedded server (catalog in ``data_dir/tiled``) unless a
    server is given by ``tiled_uri`` or ``$BLUESKY_TIMELAPSE_TILED_URI`` (with
    ``$TILED_API_KEY``); that server must be able to read ``data_dir/frames``.
    ``keep_serving``, if given, is called with the embedded server before it stops.
    """
    target = tiled_settings(tiled_uri)
    camera = SimCamera(
        name="garden",
        root=str(data_dir / "frames"),
        write_path_template="%Y/%m/%d",
        writer=writer,
        shape=(240, 320),
        colour=True,
        dtype="uint8",
        time_scale=GARDEN_SECONDS_PER_SLOT / interval,
    )
    (data_dir / "frames").mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        server: LocalTiled | None = None
        if target.uri is None:
            server = stack.enter_context(
                LocalTiled(data_dir / "tiled", readable_storage=[data_dir / "frames"])
            )
            client_factory: Callable[[], Any] = server.client
            target = server.target
        else:
            connect(target)  # a clear error now if it is unreachable or refuses the key
            client_factory = partial(connect, target)
        uri = target.uri
        assert uri is not None
        start = datetime.now(UTC) + timedelta(seconds=0.5)
        schedule = every(interval, count=slots, start=start)
        engine = RunEngine({}, call_returns_result=True)
        install_commands(engine)
        sink = TiledSink(data_dir / "journal", target)
        engine.subscribe(sink)
        scene_times: dict[str, float] = {}
        engine.subscribe(_scene_time_recorder(scene_times))
        display = TimelapseProgress(bar=partial(tqdm, disable=not progress))
        engine.subscribe(display)
        try:
            result = engine(
                timelapse(
                    [camera],
                    schedule.to_dict(),
                    store=str(data_dir / "timelapses"),
                    md={"purpose": "bluesky-timelapse demo"},
                )
            )
        finally:
            display.close()
            sink.close(timeout=120)
        timelapse_id: str = result.plan_result  # type: ignore[union-attr]
        frames = load(client_factory(), timelapse_id)
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
        if keep_serving is not None and server is not None:
            keep_serving(server)
        return DemoReport(
            timelapse_id=timelapse_id,
            slots=slots,
            rows=rows,
            nbytes=int(frames.nbytes),
            frames_directory=data_dir / "frames",
            tiled_directory=server.directory if server is not None else None,
            uri=uri,
        )


def _scene_time_recorder(scene_times: dict[str, float]) -> Callable[[str, Any], None]:
    descriptors: dict[str, str] = {}

    def record(name: str, doc: dict[str, Any]) -> None:
        if name == "descriptor":
            descriptors[doc["uid"]] = doc["run_start"]
        elif name == "event":
            scene_times[descriptors[doc["descriptor"]]] = doc["data"]["garden_scene_time"]

    return record
