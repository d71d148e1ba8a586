"""Timelapse states for the persistence tests: a state, its slots run, a store saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bluesky_timelapse.persistence import SlotRecord, TimelapseState

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
ID = "bench-7"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new_state(timelapse_id: str = ID, **fields: Any) -> TimelapseState:
    return TimelapseState(
        timelapse_id=timelapse_id,
        created=T0,
        schedule={"kind": "every", "interval": 600, "count": 100},
        detectors=["cam"],
        plan="count",
        plan_kwargs={"num": 1},
        md={"operator": "ada"},
        options={"grace": 60, "missed": "skip"},
        **fields,
    )


def run_slot(state: TimelapseState, index: int) -> SlotRecord:
    state.mark_running(index, at(10 * index), lateness=0.5, started=at(10 * index))
    state.mark_run_uid(index, f"uid-{index}")
    return state.mark_succeeded(index, finished=at(10 * index + 1))


def files_under(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not path.name.endswith("-shm")  # SQLite's index, for readers too
    }
