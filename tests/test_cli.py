"""The ``bluesky-timelapse`` command, run as a user runs it."""

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from bluesky_timelapse import cli

COMMAND = Path(sysconfig.get_path("scripts")) / "bluesky-timelapse"


def run_command(*args):
    """Run the installed console script, as a user would."""
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=240)


def test_demo_acquires_into_embedded_tiled_and_reads_everything_back(tmp_path):
    result = run_command(
        "demo", "--slots", "3", "--interval", "0.5", "--writer", "tiff", "--data-dir", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert "3 of 3 slots read back from Tiled identical to what the camera took." in result.stdout
    assert "3 scheduled, 3 frames in Tiled" in result.stdout
    assert len(list((tmp_path / "frames").rglob("garden_*.tiff"))) == 3
    assert (tmp_path / "tiled" / "catalog.db").is_file()
    (store,) = (tmp_path / "timelapses").glob("*.json")
    assert '"status":"completed"' in store.read_text().replace(" ", "")
    assert list((tmp_path / "journal").glob("*.jsonl")) == []  # everything acknowledged


def test_demo_refuses_bad_arguments_before_writing(tmp_path):
    bad_count = run_command("demo", "--slots", "0", "--data-dir", str(tmp_path))
    assert bad_count.returncode == 2
    assert "argument --slots: 0 is not allowed; give a whole number >= 1" in bad_count.stderr
    bad_writer = run_command("demo", "--writer", "png", "--data-dir", str(tmp_path))
    assert bad_writer.returncode == 1
    assert "unknown writer 'png'; allowed: hdf5, npy, tiff, zarr" in bad_writer.stderr
    assert list(tmp_path.iterdir()) == []


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_data_dir_defaults_to_the_environment_override(tmp_path, monkeypatch):
    monkeypatch.setenv("BLUESKY_TIMELAPSE_DIR", str(tmp_path))
    assert cli.default_data_dir() == tmp_path


def test_version():
    result = subprocess.run(
        [sys.executable, "-m", "bluesky_timelapse.cli", "--version"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("bluesky-timelapse ")


@pytest.mark.parametrize("text", ["0", "-3"])
def test_slots_must_be_positive(text):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--slots", text])
    assert exit_info.value.code == 2
