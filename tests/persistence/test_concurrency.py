"""Other processes read the store while a rig writes it: no lock-out, a consistent view."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bluesky_timelapse.persistence import TimelapseStore
from bluesky_timelapse.plans import list_timelapses

sys.path.insert(0, str(Path(__file__).parent))
from store_writer import ID, states

WRITER = Path(__file__).with_name("store_writer.py")
SLOTS = 300


def test_readers_see_a_consistent_growing_state_while_the_writer_writes(
    tmp_path: Path,
) -> None:
    final = list(states(SLOTS))[-1]
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(tmp_path), str(SLOTS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        writer.stdout.readline()  # created: from here on there is something to read
        seen: list[int] = []
        while writer.poll() is None:
            with TimelapseStore(tmp_path) as store:
                state = store.load(ID, settled=False)
            (summary,) = list_timelapses(tmp_path)
            # each view is one committed save: counts agree with the slots reached
            assert sum(state.counts().values()) in (state.next_index, state.next_index + 1)
            assert summary.counts["succeeded"] >= state.counts()["succeeded"]
            seen.append(state.next_index)
        assert writer.wait(timeout=60) == 0, writer.stderr.read() if writer.stderr else ""
    finally:
        writer.kill()
        writer.wait()
    assert seen == sorted(seen), "a reader saw the timelapse go back"
    assert len(set(seen)) > 1, "the readers never saw the writer's progress"
    with TimelapseStore(tmp_path) as store:
        assert store.load(ID).model_dump(exclude={"updated"}) == final.model_dump(
            exclude={"updated"}
        )
