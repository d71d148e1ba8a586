"""The IPython profile: run from a clone, shipped in the wheel, installed with the CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from bluesky_timelapse import load
from bluesky_timelapse.ipython_profile import install_profile, profile_files
from bluesky_timelapse.tiled import LocalTiled

SCRIPTS = Path(sysconfig.get_path("scripts"))
ROOT = Path(__file__).parents[1]
PROFILE = ROOT / "profiles" / "profile_timelapse"
STARTUP = ["00-base.py", "10-devices.py", "50-plans.py", "90-callbacks.py"]


def run_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPTS / "bluesky-timelapse", *args], capture_output=True, text=True, timeout=60
    )


def isolated_environment(data_dir: Path, ipython_dir: Path) -> dict[str, str]:
    """This environment with the session's data in ``data_dir`` and IPython's in ``ipython_dir``."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("BLUESKY_TIMELAPSE_TILED_URI", "TILED_API_KEY")
    }
    environment["BLUESKY_TIMELAPSE_DIR"] = str(data_dir)
    environment["IPYTHONDIR"] = str(ipython_dir)
    return environment


def test_the_profile_is_the_clones_and_holds_no_queueserver_file():
    assert profile_files() == [*STARTUP, "README.md"]
    assert sorted(path.name for path in (PROFILE / "startup").iterdir()) == profile_files()


def untracked(directory: Path) -> set[str]:
    """The files git neither tracks nor ignores under ``directory`` (empty outside a clone)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return set()
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", str(directory)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    return {line[3:] for line in status.splitlines() if line.startswith("??")}


def test_ipython_runs_the_profile_from_the_clone(tmp_path):
    before = untracked(PROFILE)
    result = subprocess.run(
        [
            SCRIPTS / "ipython",
            "--profile-dir=profiles/profile_timelapse",
            "-c",
            "print(RE.state)",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=isolated_environment(tmp_path / "data", tmp_path / "ipython"),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "idle", result.stdout + result.stderr
    assert (
        "session configured" in (tmp_path / "data" / "logs" / "bluesky-timelapse.log").read_text()
    )
    assert not (tmp_path / "data" / "tiled" / "server.json").exists()  # the session closed
    assert untracked(PROFILE) == before, "IPython left files in the clone that git does not ignore"


def test_an_editable_install_reads_the_clone_not_a_stale_copy(tmp_path):
    # hatchling's editable wheel copies the force-included files into site-packages, but
    # the package itself is imported from src/, beside which there is no copy.
    stale = tmp_path / "site-packages" / "bluesky_timelapse" / "_profile" / "startup"
    stale.mkdir(parents=True)
    (stale / "00-base.py").write_text("raise SystemExit('stale')\n")
    code = "from bluesky_timelapse import ipython_profile as p; print(p._startup())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": f"{stale.parents[2]}{os.pathsep}{ROOT / 'src'}"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(PROFILE / "startup")


def test_the_wheel_ships_the_profile_and_installs_it_without_the_clone(tmp_path):
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*pip_wheel, "--no-index", str(ROOT), "-w", str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("bluesky_timelapse-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        shipped = sorted(
            name.rsplit("/", 1)[1]
            for name in names
            if name.startswith("bluesky_timelapse/_profile/startup/")
        )
        assert shipped == profile_files()
        assert "bluesky_timelapse/_qserver_permissions.yaml" in names
        archive.extractall(tmp_path / "site-packages")

    # The unpacked wheel is what an installation puts in site-packages; no clone beside it.
    code = (
        "import sys, bluesky_timelapse\n"
        "from bluesky_timelapse.cli import main\n"
        "print(bluesky_timelapse.__file__)\n"
        f"sys.exit(main(['profile', 'install', '--ipython-dir', {str(tmp_path / 'ipython')!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site-packages")},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(str(tmp_path / "site-packages" / "bluesky_timelapse")), (
        result.stdout
    )
    startup = tmp_path / "ipython" / "profile_timelapse" / "startup"
    for name in profile_files():
        assert (startup / name).read_text() == (PROFILE / "startup" / name).read_text()


def test_profile_install_copies_the_files_and_never_overwrites_without_force(tmp_path):
    result = run_command("profile", "install", "--ipython-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    startup = tmp_path / "profile_timelapse" / "startup"
    source = PROFILE / "startup"
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
    environment = isolated_environment(data_dir, ipython_dir)
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
