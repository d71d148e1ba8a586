"""``bluesky-timelapse run``, ``resume``, ``list`` and ``plugins``, run as a user runs them."""

import os
import queue
import signal
import subprocess
import sysconfig
import threading
import time
from pathlib import Path

import pytest

from bluesky_timelapse.persistence import TimelapseStore
from folder_files import image_bytes, write_slowly

COMMAND = Path(sysconfig.get_path("scripts")) / "bluesky-timelapse"
TIMEOUT = 240

CONFIG = """\
cameras:
  - class: SimCamera
    name: garden
    writer: tiff
    shape: [48, 64]
schedule:
  kind: every
  interval: {interval}
  count: {count}
timelapse:
  grace: 60
  md: {{site: test}}
suspenders:
  min_free: 1MB
"""


def environment(data_dir, **extra):
    return os.environ | {"BLUESKY_TIMELAPSE_DIR": str(data_dir)} | extra


def run_command(*args, data_dir, **extra):
    return subprocess.run(
        [COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=environment(data_dir, **extra),
    )


def write_config(tmp_path, text, name="rig.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_run_acquires_every_slot_into_tiled(tmp_path):
    from bluesky_timelapse.tiled import LocalTiled, load

    data_dir = tmp_path / "data"
    config = write_config(tmp_path, CONFIG.format(interval=0.5, count=3))
    result = run_command("run", str(config), "--no-progress", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    timelapse_id = result.stdout.split("running timelapse ", 1)[1].split()[0]
    assert f"timelapse {timelapse_id} completed" in result.stdout
    state = TimelapseStore(data_dir / "timelapses").load(timelapse_id)
    assert state.status == "completed"
    assert [record.status for record in state.slots] == ["succeeded"] * 3
    assert state.md["site"] == "test"
    with LocalTiled(data_dir / "tiled", readable_storage=[data_dir / "frames"]) as server:
        frames = load(server.client(), timelapse_id)
        assert sorted(int(slot) for slot in frames["slot"].values) == [0, 1, 2]
    listing = run_command("list", data_dir=data_dir)
    assert listing.returncode == 0, listing.stderr
    (line,) = [row for row in listing.stdout.splitlines() if timelapse_id in row]
    assert "completed" in line and "3/3" in line
    status = run_command("status", data_dir=data_dir)
    assert "completed" in status.stdout and "3/3" in status.stdout
    # The same id again is refused; with --resume there is nothing left to do.
    named = write_config(tmp_path, CONFIG.format(interval=0.5, count=3) + "", "named.yaml")
    named.write_text(
        named.read_text().replace(
            "  grace: 60\n", f"  grace: 60\n  timelapse_id: {timelapse_id}\n"
        )
    )
    again = run_command("run", str(named), data_dir=data_dir)
    assert again.returncode == 1
    assert f"timelapse {timelapse_id!r} exists already" in again.stderr
    done = run_command("run", str(named), "--resume", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert "completed; nothing to do" in done.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "cameras:\n  - class: SimCamera\n    name: [garden\nschedule: {kind: every}\n",
            ["rig.yaml:4: column 9: YAML syntax error"],
            id="syntax",
        ),
        pytest.param(
            CONFIG.format(interval=0.5, count=3).replace("grace: 60", "grace: -1"),
            ["rig.yaml:11: timelapse.grace: -1 is invalid"],
            id="negative-grace",
        ),
        pytest.param(
            CONFIG.format(interval=0.5, count=3).replace("SimCamera", "NoSuchCamera"),
            ["rig.yaml:2: cameras[0].class: unknown camera class 'NoSuchCamera'; allowed:"],
            id="unknown-class",
        ),
        pytest.param(
            CONFIG.format(interval=0.5, count=3) + "colour: red\n",
            ["rig.yaml:15: colour: unknown key; allowed: cameras, schedule,"],
            id="unknown-key",
        ),
        pytest.param(
            CONFIG.format(interval=0.5, count=3).replace("writer: tiff", "writer: png"),
            ["rig.yaml:4: cameras[0].writer: SimCamera refused it: unknown writer 'png'"],
            id="camera-refuses",
        ),
        pytest.param(
            CONFIG.format(interval=-4, count=3),
            ["rig.yaml:8: schedule: interval -4 is not positive"],
            id="bad-schedule",
        ),
        pytest.param(
            CONFIG.format(interval=0.5, count=3).replace("    shape", "    shap"),
            ["rig.yaml:5: cameras[0].shap: SimCamera refused it"],
            id="unknown-camera-argument",
        ),
    ],
)
def test_run_refuses_a_bad_config_before_writing_anything(tmp_path, text, expected):
    data_dir = tmp_path / "data"
    config = write_config(tmp_path, text)
    result = subprocess.run(
        [COMMAND, "run", config.name],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=environment(data_dir),
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bluesky-timelapse run: error: invalid config" in result.stderr
    for fragment in expected:
        assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rig.yaml"]


def _stream(process):
    lines: queue.Queue[str] = queue.Queue()

    def pump():
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for_line(lines, fragment, deadline):
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, min(1.0, deadline - time.monotonic())))
        except queue.Empty:
            continue
        seen.append(line)
        if fragment in line:
            return line
    raise AssertionError(f"no line with {fragment!r} in time; seen: {seen}")


def _wait_for_slots(store, timelapse_id, n, deadline):
    while time.monotonic() < deadline:
        if store.exists(timelapse_id):
            state = store.load(timelapse_id)
            if sum(record.status == "succeeded" for record in state.slots) >= n:
                return
        time.sleep(0.05)  # polling the store, not synchronising on time
    raise AssertionError(f"timelapse {timelapse_id} did not reach {n} slots in time")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_run_resumes_and_completes_without_repeating_a_slot(tmp_path, signum):
    from bluesky_timelapse.tiled import LocalTiled

    data_dir = tmp_path / "data"
    count = 8
    config = write_config(tmp_path, CONFIG.format(interval=1.0, count=count))
    process = subprocess.Popen(
        [COMMAND, "run", str(config), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(data_dir),
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        lines = _stream(process)
        line = _wait_for_line(lines, "running timelapse ", deadline)
        timelapse_id = line.split("running timelapse ", 1)[1].split()[0]
        store = TimelapseStore(data_dir / "timelapses")
        _wait_for_slots(store, timelapse_id, 2, deadline)
        process.send_signal(signum)
        assert process.wait(timeout=TIMEOUT) == 3, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stopped = store.load(timelapse_id)
    assert stopped.status == "stopped"
    assert 2 <= len(stopped.slots) < count
    listing = run_command("list", data_dir=data_dir)
    assert "stopped" in listing.stdout and f"/{count}" in listing.stdout

    # No id, no --config: the only unfinished timelapse, with the config run recorded.
    resumed = run_command("resume", "--no-progress", data_dir=data_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming timelapse {timelapse_id}" in resumed.stdout
    state = store.load(timelapse_id)
    assert state.status == "completed"
    assert [record.index for record in state.slots] == list(range(count))
    acquired = [r.index for r in state.slots if r.status == "succeeded"]
    assert len(acquired) >= count - len(stopped.slots)
    assert {r.status for r in state.slots} <= {"succeeded", "interrupted", "missed"}
    with LocalTiled(data_dir / "tiled", readable_storage=[data_dir / "frames"]) as server:
        runs = server.client()
        slots = [
            run.metadata["start"]["slot_index"]
            for run in runs.values()
            if run.metadata.get("start", {}).get("timelapse_id") == timelapse_id  # not timelapses/
        ]
    assert sorted(slots) == sorted(set(slots))  # no slot twice
    assert set(acquired) <= set(slots)

    nothing = run_command("resume", data_dir=data_dir)
    assert nothing.returncode == 1
    assert "0 unfinished timelapses" in nothing.stderr


def test_resume_without_id_lists_the_unfinished_ones(tmp_path):
    from datetime import UTC, datetime

    from bluesky_timelapse.persistence import TimelapseState
    from bluesky_timelapse.schedules import every

    now = datetime.now(UTC)
    store = TimelapseStore(tmp_path / "timelapses")
    for name in ("basil", "thyme"):
        schedule = every(3600, count=10, start=now)
        store.create(
            TimelapseState(
                timelapse_id=name, created=now, updated=now, schedule=schedule.to_dict()
            )
        )
    result = run_command("resume", data_dir=tmp_path)
    assert result.returncode == 1
    assert "2 unfinished timelapses" in result.stderr
    assert "basil (running)" in result.stderr and "thyme (running)" in result.stderr
    unknown = run_command("resume", "nope", data_dir=tmp_path)
    assert unknown.returncode == 1 and "no timelapse 'nope'" in unknown.stderr
    no_config = run_command("resume", "basil", data_dir=tmp_path)
    assert no_config.returncode == 1 and "records no config file" in no_config.stderr
    listing = run_command("list", data_dir=tmp_path)
    assert listing.returncode == 0
    rows = [row.split() for row in listing.stdout.splitlines()[1:]]
    assert [row[:3] for row in rows] == [
        ["basil", "running", "0/10"],
        ["thyme", "running", "0/10"],
    ]


def test_list_of_an_empty_data_directory(tmp_path):
    result = run_command("list", data_dir=tmp_path / "none")
    assert result.returncode == 0
    assert result.stdout == ""
    assert not (tmp_path / "none").exists()


def test_plugins_lists_every_group_and_reports_broken_ones(tmp_path):
    result = run_command("plugins", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bluesky_timelapse.devices:" in result.stdout
    assert "  SimCamera -> bluesky_timelapse.devices:SimCamera" in result.stdout
    assert "  tiff -> bluesky_timelapse.storage:TiffSequenceWriter" in result.stdout
    assert "  timelapse -> bluesky_timelapse.plans:timelapse" in result.stdout
    assert "BROKEN" not in result.stdout

    dist = tmp_path / "site" / "broken_rig-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-rig\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[bluesky_timelapse.devices]\nLaserCam = no_such_module_here:LaserCam\n"
    )
    path = os.pathsep.join(filter(None, [str(tmp_path / "site"), os.environ.get("PYTHONPATH")]))
    broken = run_command("plugins", data_dir=tmp_path, PYTHONPATH=path)
    assert broken.returncode == 1
    assert (
        "LaserCam -> no_such_module_here:LaserCam  (broken-rig)  BROKEN: ModuleNotFoundError"
        in (broken.stdout)
    )
    assert "  SimCamera -> bluesky_timelapse.devices:SimCamera" in broken.stdout
    assert "1 plugin(s) failed to load" in broken.stderr
    assert "Traceback" not in broken.stderr


FOLDER_CONFIG = """\
cameras:
  - class: FolderCamera
    name: dslr
    template: {incoming}/{{taken:%Y%m%d-%H%M%S}}.png
    state_file: {incoming}/../dslr.json
    {extra}
schedule: {{kind: every, interval: 10m}}
storage:
  data_dir: data
"""


def test_a_folder_camera_without_copy_to_reads_files_where_they_lie(tmp_path):
    from bluesky_timelapse.run_config import load_config

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    config = write_config(tmp_path, FOLDER_CONFIG.format(incoming=incoming, extra=""))
    (camera,) = load_config(config).cameras
    assert camera.copy_to is None
    camera.stage()
    try:
        status = camera.trigger()
        path = incoming / "20250601-120000.png"
        write_slowly(path, image_bytes("png", 1)[0])
        status.wait(60)
        assert camera.read()["dslr_file"]["value"] == str(path)
        (resource, _) = [doc for _, doc in camera.collect_asset_docs()]
        assert Path(resource["root"], resource["resource_path"]) == incoming
    finally:
        camera.unstage()
    assert not (tmp_path / "data").exists()  # nothing copied into the data directory


def test_a_folder_camera_with_copy_to_copies_below_the_data_directory(tmp_path):
    from bluesky_timelapse.run_config import load_config

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    config = write_config(tmp_path, FOLDER_CONFIG.format(incoming=incoming, extra="copy_to: hdf5"))
    (camera,) = load_config(config).cameras
    assert camera.copy_to == "hdf5"
    assert camera.path_templates.root == str(tmp_path / "data" / "frames")
    assert camera.path_templates.write_path_template == "%Y/%m/%d"
