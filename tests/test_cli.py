"""The ``bluesky-timelapse`` command, run as a user runs it."""

import subprocess
import sys
import sysconfig
from pathlib import Path

import av
import pytest
from PIL import Image

from bluesky_timelapse import cli
from bluesky_timelapse.persistence import TimelapseStore

COMMAND = Path(sysconfig.get_path("scripts")) / "bluesky-timelapse"


def run_command(*args):
    """Run the installed console script, as a user would."""
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=240)


def test_demo_acquires_into_embedded_tiled_and_reads_everything_back(tmp_path):
    result = run_command(
        "demo",
        "--slots",
        "3",
        "--interval",
        "0.5",
        "--writer",
        "tiff",
        "--data-dir",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "3 of 3 slots read back from Tiled identical to what the camera took." in result.stdout
    assert "3 scheduled, 3 frames in Tiled" in result.stdout
    assert len(list((tmp_path / "frames").rglob("garden_*.tiff"))) == 3
    assert (tmp_path / "tiled" / "catalog.db").is_file()
    (state,) = TimelapseStore(tmp_path / "timelapses").list(settled=False)
    assert state.status == "completed"
    # and a video and a contact sheet of it, whose paths it prints
    video, sheet = (tmp_path / "products" / f"{state.timelapse_id}{s}" for s in (".mp4", ".png"))
    assert f"  video    {video}" in result.stdout and f"  sheet    {sheet}" in result.stdout
    with av.open(str(video)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3
    with Image.open(sheet) as image:
        assert image.format == "PNG" and image.width == 3 * 240
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


def test_status_shows_timelapses_and_the_sink_backlog(tmp_path):
    from datetime import UTC, datetime

    from bluesky_timelapse.callbacks._tiled_sink import HEALTH_FILE
    from bluesky_timelapse.persistence import TimelapseState, TimelapseStore
    from bluesky_timelapse.schedules import every

    now = datetime.now(UTC)
    schedule = every(3600, count=10, start=now)
    state = TimelapseState(
        timelapse_id="basil", created=now, updated=now, schedule=schedule.to_dict()
    )
    state.mark_running(0, schedule.first().time, lateness=0.1, started=now)
    state.mark_run_uid(0, "uid-0")
    state.mark_run_closed(0)
    state.mark_failed(0, "RuntimeError: sensor timeout", finished=now)
    TimelapseStore(tmp_path / "timelapses").create(state)
    (tmp_path / "journal").mkdir()
    (tmp_path / "journal" / HEALTH_FILE).write_text(
        '{"queue_depth": 12, "oldest_unsent_age": 30.0, "runs_pending": 2, '
        '"last_error": "ConnectError: refused", "connected": false, "updated": 1795300000.0}'
    )
    result = run_command("status", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "basil" in result.stdout and "running" in result.stdout and "1/10" in result.stdout
    assert "1 failed, last: RuntimeError: sensor timeout" in result.stdout
    assert "12 documents waiting in 2 runs, oldest 30 s, not connected" in result.stdout
    assert "last error: ConnectError: refused" in result.stdout
    missing = run_command("status", "nope", "--data-dir", str(tmp_path))
    assert missing.returncode == 1
    assert "no timelapse 'nope'" in missing.stderr


def test_demo_against_another_tiled_server_by_uri_and_key(tmp_path):
    import os

    from bluesky_timelapse.tiled import LocalTiled

    data_dir = tmp_path / "rig"
    with LocalTiled(tmp_path / "facility", readable_storage=[data_dir / "frames"]) as server:
        environment = os.environ | {"TILED_API_KEY": server.api_key}
        arguments = [COMMAND, "demo", "--slots", "2", "--interval", "0.5", "--no-progress"]
        arguments += ["--data-dir", str(data_dir), "--tiled-uri", server.uri]
        result = subprocess.run(
            arguments, capture_output=True, text=True, timeout=240, env=environment
        )
        assert result.returncode == 0, result.stderr
        assert "2 of 2 slots read back from Tiled identical" in result.stdout
        assert f"tiled    {server.uri}\n" in result.stdout
        assert server.api_key not in result.stdout + result.stderr
        assert not (data_dir / "tiled").exists()  # no embedded server was started
        wrong = environment | {"TILED_API_KEY": "not-the-key"}
        refused = subprocess.run(arguments, capture_output=True, text=True, timeout=240, env=wrong)
        assert refused.returncode == 1
        assert "not-the-key" not in refused.stderr
        assert server.uri in refused.stderr
