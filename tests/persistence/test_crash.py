"""SIGKILL at every point of a slot transition, and torn tails: nothing committed is lost."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bluesky_timelapse.persistence import DATABASE_FILE, TimelapseStore

sys.path.insert(0, str(Path(__file__).parent))
from store_writer import ID, states

WRITER = Path(__file__).with_name("store_writer.py")
SLOTS = 30
STATEMENTS = 545
"""SQL statements the writer runs for SLOTS slots (85 saves, two snapshots)."""
EXPECTED = [state.model_dump(exclude={"updated"}) for state in states(SLOTS)]
"""What the store holds after each save, from the first (the creation) on."""


def run_writer(directory: Path, kill_at: int | None = None) -> list[tuple[int, int]]:
    """Run the writer; return the (save number, WAL size) it printed before it ended."""
    process = subprocess.run(
        [sys.executable, str(WRITER), str(directory), str(SLOTS)]
        + ([] if kill_at is None else [str(kill_at)]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == (0 if kill_at is None else -9), process.stderr
    return [
        (int(number), int(size))
        for _, number, size in (line.split() for line in process.stdout.splitlines())
    ]


def loaded(directory: Path) -> dict[str, Any] | None:
    store = TimelapseStore(directory)
    try:
        if not store.exists(ID):
            return None
        return store.load(ID).model_dump(exclude={"updated"})
    finally:
        store.close()


# Every statement of the creation and the first slots, then seeded points further on.
KILL_POINTS = list(range(1, 61)) + sorted(random.Random(14).sample(range(61, STATEMENTS), 25))


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_sigkill_at_any_statement_keeps_every_committed_save(tmp_path: Path, kill_at: int) -> None:
    printed = run_writer(tmp_path, kill_at)
    committed = printed[-1][0] if printed else 0
    state = loaded(tmp_path)
    # What was committed is there; the save in progress is there entirely or not at all.
    allowed = [None if committed == 0 else EXPECTED[committed - 1]]
    if committed < len(EXPECTED):
        allowed.append(EXPECTED[committed])
    assert state in allowed, f"killed at statement {kill_at} after save {committed}"
    # and the store goes on from there
    store = TimelapseStore(tmp_path)
    if state is not None:
        resumed = store.load(ID, settled=False)
        assert resumed.next_index == store.load(ID).next_index
        store.save(resumed)
    store.close()


def test_the_writer_runs_to_the_end_without_a_kill(tmp_path: Path) -> None:
    printed = run_writer(tmp_path)
    assert [number for number, _ in printed] == list(range(1, len(EXPECTED) + 1))
    assert loaded(tmp_path) == EXPECTED[-1]


@pytest.mark.parametrize("seed", range(8))
def test_a_torn_tail_of_the_log_keeps_what_was_committed_before_it(
    tmp_path: Path, seed: int
) -> None:
    choose = random.Random(seed)
    printed = run_writer(tmp_path, kill_at=choose.randrange(100, STATEMENTS))
    wal = tmp_path / f"{DATABASE_FILE}-wal"
    (number, size), *_ = [p for p in reversed(printed) if p[1] > 0] or [(0, 0)]
    if choose.random() < 0.5:  # a write cut short: the log ends inside the frames after it
        end = wal.stat().st_size
        if end > size:
            with wal.open("r+b") as log:
                log.truncate(choose.randrange(size, end))
    else:  # garbage where the next frame would have gone
        with wal.open("ab") as log:
            log.write(choose.randbytes(choose.randrange(1, 9000)))
    state = loaded(tmp_path)
    later = [EXPECTED[n - 1] for n in range(number, len(EXPECTED) + 1)]
    assert state in later, f"seed {seed}: lost what save {number} committed"
