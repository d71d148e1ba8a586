"""A timelapse in a process of its own, for the crash tests.

Starts (or, with ``--resume``, resumes) a timelapse of a SimCamera. Every document
is appended to a journal file and fsynced before the RunEngine goes on, so the
journal holds everything the process emitted up to the moment it is killed.
Prints ``START <slot>``, ``STOP <slot>`` and ``DONE`` lines for the test to act on.
"""

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta

from bluesky import RunEngine

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.plans import install_commands, resume_timelapse, timelapse
from bluesky_timelapse.schedules import every


class Journal:
    """Append each document as a JSON line, fsynced; announce run starts and stops."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self.slot_of_run = {}

    def __call__(self, name, doc):
        self.file.write(json.dumps({"name": name, "doc": doc}) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())
        if name == "start":
            self.slot_of_run[doc["uid"]] = doc["slot_index"]
            print(f"START {doc['slot_index']}", flush=True)
        elif name == "stop":
            print(f"STOP {self.slot_of_run.get(doc['run_start'], 'orphan')}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--exposure", type=float, default=0.4)
    parser.add_argument("--grace", type=float, default=1.5)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    engine = RunEngine({})
    install_commands(engine)
    engine.subscribe(Journal(args.journal))
    camera = SimCamera(
        name="cam",
        root=args.data,
        write_path_template=".",
        writer="hdf5",
        shape=(16, 16),
        exposure=args.exposure,
    )
    if args.resume:
        plan = resume_timelapse(args.id, [camera], store=args.store)
    else:
        start = datetime.now(UTC) + timedelta(seconds=0.5)
        schedule = every(args.interval, count=args.slots, start=start)
        plan = timelapse(
            [camera], schedule.to_dict(), grace=args.grace, timelapse_id=args.id, store=args.store
        )
    engine(plan)
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
