"""One rig of the soak test, in a process of its own: a timelapse into Tiled.

A RunEngine, a SimCamera writing HDF5 into ``DATA/frames`` (failing with ENOSPC
while the file ``--disk-full`` exists), with ``--folder`` a FolderCamera taking the
latest TIFF dropped there, a TiledSink
journaling in ``DATA/journal`` and forwarding to the Tiled server at ``--tiled``
(key in ``$TILED_API_KEY``), and the timelapse: created with ``--slots`` /
``--interval`` unless its store already holds it, resumed otherwise. The sink
connects lazily and retries, so the rig starts and acquires while Tiled is down.
Prints ``STOP <slot>`` after each slot's stop document and ``DONE`` at the end,
after the sink has forwarded everything.
"""

import argparse
import errno
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bluesky import RunEngine

from bluesky_timelapse.callbacks import TiledSink
from bluesky_timelapse.devices import FolderCamera, SimCamera
from bluesky_timelapse.persistence import TimelapseStore
from bluesky_timelapse.plans import install_commands, resume_timelapse, timelapse
from bluesky_timelapse.schedules import every
from bluesky_timelapse.storage import HDF5Writer
from bluesky_timelapse.tiled import tiled_settings


class DiskFullHDF5Writer(HDF5Writer):
    """HDF5Writer whose writes fail with ENOSPC while the flag file exists."""

    flag: Path | None = None

    def _write(self, frame, index):
        if self.flag is not None and self.flag.exists():
            raise OSError(errno.ENOSPC, "No space left on device (simulated)", str(self.flag))
        super()._write(frame, index)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tiled", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--slots", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--grace", type=float, default=0.5)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--disk-full", type=Path, default=None)
    args = parser.parse_args()

    store = TimelapseStore(args.data / "timelapses")
    engine = RunEngine({})
    install_commands(engine)
    sink = TiledSink(args.data / "journal", tiled_settings(args.tiled), retry_max=1.0)
    engine.subscribe(sink)
    slot_of_run: dict[str, int] = {}

    def announce(name: str, doc: dict) -> None:
        if name == "start" and "slot_index" in doc:
            slot_of_run[doc["uid"]] = doc["slot_index"]
        elif name == "stop":
            print(f"STOP {slot_of_run.get(doc['run_start'], 'orphan')}", flush=True)

    engine.subscribe(announce)
    DiskFullHDF5Writer.flag = args.disk_full
    cameras = [
        SimCamera(
            name="cam",
            root=str(args.data / "frames"),
            write_path_template=args.id,
            writer=DiskFullHDF5Writer,
            shape=(16, 16),
            exposure=0.1,
        )
    ]
    if args.folder is not None:
        cameras.append(
            FolderCamera(
                name="folder",
                template=f"{args.folder}/frame_{{n:d}}.tiff",
                mode="latest",
                timeout=5,
                settle_time=0.05,
                state_file=args.data / "folder_camera.json",
            )
        )
    if store.exists(args.id):
        plan = resume_timelapse(args.id, cameras, store=store)
    else:
        start = datetime.now(UTC) + timedelta(seconds=0.5)
        schedule = every(args.interval, count=args.slots, start=start)
        plan = timelapse(
            cameras, schedule.to_dict(), timelapse_id=args.id, grace=args.grace, store=store
        )
    engine(plan)
    while not sink.flush(timeout=5):
        pass  # Tiled may be down for a while: the journal holds everything meanwhile
    sink.close()
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
