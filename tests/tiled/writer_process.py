"""A RunEngine in a process of its own, writing runs into a Tiled server.

For the test of several local writers into one embedded server. The process makes
its RunEngine, camera and Tiled subscription, prints ``READY``, waits for a line
on standard input (so that every writer starts acquiring at once), then runs
``count([camera], num=EVENTS)`` ``RUNS`` times, printing ``RUN <uid>`` after each,
and ``DONE`` once every document is in Tiled (a TiledSink is flushed first).

The API key is read from the file named by ``--key-file``, never from the command
line.
"""

import argparse
import sys
from pathlib import Path

from bluesky import RunEngine
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter
from tiled.client import from_uri

from bluesky_timelapse.callbacks import TiledSink
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from bluesky_timelapse.tiled import TiledTarget


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--key-file", required=True)
    parser.add_argument("--frames", required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--subscriber", choices=("sink", "writer"), required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=5)
    args = parser.parse_args()

    target = TiledTarget(args.uri, Path(args.key_file).read_text().strip())
    engine = RunEngine({})
    sink = None
    if args.subscriber == "sink":
        sink = TiledSink(args.journal, target, batch_size=2)
        engine.subscribe(sink)
    else:
        client = from_uri(target.uri, api_key=target.api_key, trust_env=False)
        engine.subscribe(TiledWriter(client, spec_to_mimetype=SPEC_TO_MIMETYPE, batch_size=1))
    camera = SimCamera(
        name=args.name,
        root=args.frames,
        write_path_template=args.name,
        writer="hdf5",
        shape=(8, 8),
    )
    print("READY", flush=True)
    sys.stdin.readline()
    for _ in range(args.runs):
        (uid,) = engine(count([camera], num=args.events), writer=args.name)
        print(f"RUN {uid}", flush=True)
    if sink is not None:
        if not sink.flush(timeout=120):
            print(f"FAILED {sink.health()}", flush=True)
            sys.exit(1)
        sink.close()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
