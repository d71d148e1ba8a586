"""The shipped IPython profile: installed with the CLI, run by a real IPython."""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from importlib.resources import files
from pathlib import Path

from bluesky_timelapse import load
from bluesky_timelapse.ipython_profile import install_profile, profile_files
from bluesky_timelapse.tiled import LocalTiled

SCRIPTS = Path(sysconfig.get_path("scripts"))
STARTUP = ["00-base.py", "10-devices.py", "50-plans.py", "90-callbacks.py"]


def run_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPTS / "bluesky-timelapse", *args], capture_output=True, text=True, timeout=60
    )


def test_the_package_ships_the_profile():
    assert profile_files() == [*STARTUP, "README.md", "user_group_permissions.yaml"]


def test_profile_install_copies_the_files_and_never_overwrites_without_force(tmp_path):
    result = run_command("profile", "install", "--ipython-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    startup = tmp_path / "profile_timelapse" / "startup"
    source = files("bluesky_timelapse") / "profile_timelapse" / "startup"
    for name in profile_files():
        assert (startup / name).read_text() == (source / name).read_text()
    assert f"ipython --ipython-dir={tmp_path} --profile=timelapse" in result.stdout

    (startup / "10-devices.py").write_text("camera = None  # mine\n")
    refused = run_command("profile", "install", "--ipython-dir", str(tmp_path))
    assert refused.returncode == 1
    assert f"{startup / '00-base.py'} exists already" in refused.stderr
    assert "--force" in refused.stderr
    assert (startup / "10-devices.py").read_text() == "camera = None  # mine\n"

    forced = run_command("profile", "install", "--ipython-dir", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (startup / "10-devices.py").read_text() == (source / "10-devices.py").read_text()


def test_profile_install_under_another_name_and_bad_command_lines(tmp_path):
    written = install_profile(tmp_path, name="garden")
    assert [path.name for path in written] == profile_files()
    assert all(path.parent == tmp_path / "profile_garden" / "startup" for path in written)
    bad_name = run_command("profile", "install", "--ipython-dir", str(tmp_path), "--name", "../x")
    assert bad_name.returncode == 1
    assert "profile name '../x' is invalid" in bad_name.stderr
    assert run_command("profile").returncode == 2
    assert run_command("profile", "install", "--bogus").returncode == 2


def test_ipython_with_the_profile_runs_a_timelapse_into_tiled(tmp_path):
    ipython_dir, data_dir = tmp_path / "ipython", tmp_path / "data"
    installed = run_command("profile", "install", "--ipython-dir", str(ipython_dir))
    assert installed.returncode == 0, installed.stderr
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("BLUESKY_TIMELAPSE_TILED_URI", "TILED_API_KEY", "IPYTHONDIR")
    }
    environment["BLUESKY_TIMELAPSE_DIR"] = str(data_dir)
    code = (
        "result = RE(timelapse([camera], every('1s', count=3)))\n"
        "print('timelapse', result.plan_result, result.exit_status, RE.md['scan_id'])\n"
    )
    result = subprocess.run(
        [SCRIPTS / "ipython", f"--ipython-dir={ipython_dir}", "--profile=timelapse", "-c", code],
        capture_output=True,
        text=True,
        timeout=240,
        env=environment,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"^timelapse (\S+) success 3$", result.stdout, re.MULTILINE)
    assert found, result.stdout + result.stderr
    timelapse_id = found.group(1)
    # Leaving IPython closed the session: everything forwarded, its server stopped.
    assert list((data_dir / "journal").glob("*.jsonl")) == []
    assert not (data_dir / "tiled" / "server.json").exists()
    assert "session configured" in (data_dir / "logs" / "bluesky-timelapse.log").read_text()

    with LocalTiled(data_dir / "tiled", readable_storage=[data_dir / "frames"]) as server:
        frames = load(server.client(), timelapse_id)
        assert frames.shape == (3, 240, 320, 3)
        assert list(frames["slot"].values) == [0, 1, 2]
        assert frames.values.std() > 0  # real pictures, not blank
