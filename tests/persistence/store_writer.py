"""A process that runs slots of a timelapse into a store, as the timelapse plan does.

Used by the crash and concurrency tests::

    python store_writer.py DIRECTORY SLOTS [KILL_AT]

After every save it prints ``saved <n> <WAL size>`` (n counting saves from 1). With
KILL_AT it SIGKILLs itself as SQLite is about to run its KILL_AT-th statement.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bluesky_timelapse.persistence import DATABASE_FILE, TimelapseState, TimelapseStore

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
ID = "rig"


def states(slots: int) -> Iterator[TimelapseState]:
    """Every state the writer saves, in order (deterministic: the test replays it)."""
    schedule = {"kind": "every", "interval": 60.0, "start": T0.isoformat()}
    state = TimelapseState(timelapse_id=ID, created=T0, schedule=schedule)
    yield state
    for index in range(slots):
        when = T0 + timedelta(minutes=index)
        if index % 7 == 3:
            state.mark_missed(index, when, lateness=90.0)
            yield state
            continue
        state.mark_running(index, when, lateness=0.25, started=when)
        state.mark_run_uid(index, f"uid-{index}")
        yield state
        state.mark_run_closed(index)
        yield state
        if index % 5 == 4:
            state.mark_failed(index, f"RuntimeError: frame {index}", finished=when)
        else:
            state.mark_succeeded(index, finished=when + timedelta(seconds=1))
        yield state
        if index % 11 == 10:
            state.begin_suspension("door open", when + timedelta(seconds=2))
            yield state
            state.end_suspension(when + timedelta(seconds=20))
            yield state


def main() -> None:
    directory, slots = Path(sys.argv[1]), int(sys.argv[2])
    kill_at = int(sys.argv[3]) if len(sys.argv) > 3 else None
    store = TimelapseStore(directory, keep=2)
    if kill_at is not None:
        statements = 0

        def count(_: str) -> None:
            nonlocal statements
            statements += 1
            if statements == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        store._connection.set_trace_callback(count)  # every SQL statement the store runs
    wal = directory / f"{DATABASE_FILE}-wal"
    for saved, state in enumerate(states(slots), start=1):
        if saved == 1:
            store.create(state)
        else:
            store.save(state)
        state.forget_settled()
        print(f"saved {saved} {wal.stat().st_size}", flush=True)


if __name__ == "__main__":
    main()
