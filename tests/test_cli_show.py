"""``bluesky-timelapse show``: a timelapse's whole record from the store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bluesky_timelapse import cli
from bluesky_timelapse.persistence import TimelapseState, TimelapseStore
from timelapse_states import ID, at, new_state, run_slot


@pytest.fixture
def recorded(tmp_path: Path) -> TimelapseState:
    """A timelapse of the data directory ``tmp_path``: done, failed, missed, open slots."""
    state = new_state()
    with TimelapseStore(tmp_path / "timelapses") as store:
        store.create(state)
        for index in range(3):
            run_slot(state, index)
            state.mark_stop_emitted(index)
        state.mark_running(3, at(30), lateness=2.25, started=at(30))
        state.mark_run_uid(3, "uid-3")
        state.mark_failed(3, "RuntimeError: no frame", finished=at(31))
        state.mark_missed(4, at(40), lateness=650.0)
        state.begin_suspension("door open", at(41))
        store.save(state)
        state.forget_settled()
        return store.load(ID)


def test_json_is_the_whole_record(
    tmp_path: Path, recorded: TimelapseState, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["show", ID, "--json", "--data-dir", str(tmp_path)]) == 0
    shown = TimelapseState.model_validate_json(capsys.readouterr().out)
    assert shown == recorded
    assert [record.index for record in shown.slots] == [0, 1, 2, 3, 4]


def test_text_for_a_person(tmp_path: Path, recorded: TimelapseState) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bluesky_timelapse.cli", "show", ID, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "timelapse_id: bench-7" in lines
    assert 'md:           {"operator": "ada"}' in lines
    assert "slots:        3 succeeded, 1 failed, 1 missed" in lines
    assert "  2026-11-22 08:41:00 .. ongoing  door open" in lines
    (failed,) = [line for line in lines if " failed " in line]
    assert failed.split()[:6] == ["3", "2026-11-22", "08:30:00", "failed", "2.250", "uid-3"]
    assert failed.endswith("stop document owed; RuntimeError: no frame")
    assert "created:      2026-11-22 08:00:00 UTC" in lines
    slot_lines = [line.split()[0] for line in lines if line.startswith("  ") and " 08:" in line]
    assert slot_lines == ["2026-11-22", "0", "1", "2", "3", "4"]  # the suspension, the slots


def test_an_unknown_timelapse_is_an_error(
    tmp_path: Path, recorded: TimelapseState, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["show", "nope", "--data-dir", str(tmp_path)]) == 1
    assert "no timelapse 'nope'" in capsys.readouterr().err
    assert cli.main(["show", ID, "--data-dir", str(tmp_path / "empty")]) == 1
    assert "no timelapse store in" in capsys.readouterr().err
    assert not (tmp_path / "empty").exists()
