"""One rig of the soak test, in a process of its own: a timelapse into Tiled.

A RunEngine, a SimCamera writing HDF5 into ``DATA/frames``, a TiledSink
journaling in ``DATA/journal`` and forwarding to the Tiled server at ``--tiled``
(key in ``$TILED_API_KEY``), and the timelapse: created with ``--slots`` /
``--interval`` unless its store already holds it, resumed otherwise. The sink
connects lazily and retries, so the rig starts and acquires while Tiled is down.
Prints ``STOP <slot>`` after each slot's stop document and ``DONE`` at the end,
after the sink has forwarded everything.
"""

import argparse
import sys
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from bluesky import RunEngine

from bluesky_timelapse.callbacks import TiledSink
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.persistence import TimelapseStore
from bluesky_timelapse.plans import every, install_commands, resume_timelapse, timelapse
from bluesky_timelapse.tiled import connect, tiled_settings


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tiled", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--slots", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--grace", type=float, default=0.5)
    args = parser.parse_args()

    store = TimelapseStore(args.data / "timelapses")
    engine = RunEngine({})
    install_commands(engine)
    sink = TiledSink(
        args.data / "journal",
        partial(connect, tiled_settings(args.tiled), trust_env=False),
        retry_max=1.0,
    )
    engine.subscribe(sink)
    slot_of_run: dict[str, int] = {}

    def announce(name: str, doc: dict) -> None:
        if name == "start" and "slot_index" in doc:
            slot_of_run[doc["uid"]] = doc["slot_index"]
        elif name == "stop":
            print(f"STOP {slot_of_run.get(doc['run_start'], 'orphan')}", flush=True)

    engine.subscribe(announce)
    camera = SimCamera(
        name="cam",
        root=str(args.data / "frames"),
        write_path_template=args.id,
        writer="hdf5",
        shape=(16, 16),
        exposure=0.1,
    )
    if store.exists(args.id):
        plan = resume_timelapse(args.id, [camera], store=store)
    else:
        start = datetime.now(UTC) + timedelta(seconds=0.5)
        schedule = every(args.interval, count=args.slots, start=start)
        plan = timelapse(
            [camera], schedule.to_dict(), timelapse_id=args.id, grace=args.grace, store=store
        )
    engine(plan)
    while not sink.flush(timeout=5):
        pass  # Tiled may be down for a while: the journal holds everything meanwhile
    sink.close()
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
