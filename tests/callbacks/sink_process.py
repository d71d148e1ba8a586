"""A RunEngine with a TiledSink in a process of its own, for the crash test.

Runs ``--runs`` counts of a SimCamera, printing ``ACQUIRED <n>`` after each and
``FORWARDING <docs sent>`` while the sink works, so the test can kill it while
documents are still only in the journal.
"""

import argparse
import sys
import time
from functools import partial

from bluesky import RunEngine
from bluesky.plans import count
from tiled.client import from_uri

from bluesky_timelapse.callbacks import TiledSink
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.tiled import TiledTarget


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--journal", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--exposure", type=float, default=0.0)
    parser.add_argument("--forward-in", default="process")
    args = parser.parse_args()

    if args.forward_in == "process":
        sink = TiledSink(args.journal, TiledTarget(args.uri, args.api_key))
        print(f"FORWARDER {sink._forwarder.pid}", flush=True)
    else:
        client = partial(from_uri, args.uri, api_key=args.api_key, trust_env=False)
        sink = TiledSink(args.journal, client, forward_in="thread")
    engine = RunEngine({})
    engine.subscribe(sink)
    camera = SimCamera(
        name="cam", root=args.data, write_path_template=".", writer="hdf5", shape=(16, 16),
        exposure=args.exposure,
    )  # fmt: skip
    for n in range(args.runs):
        engine(count([camera], num=args.events))
        print(f"ACQUIRED {n}", flush=True)
    while True:  # report forwarding progress until killed
        print(f"BACKLOG {sink.health().queue_depth}", flush=True)
        time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
