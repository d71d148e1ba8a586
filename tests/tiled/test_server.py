"""The embedded Tiled server: a real ``tiled serve config`` process on 127.0.0.1."""

import os
import queue
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter
from filelock import FileLock

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from bluesky_timelapse.tiled import (
    LocalTiled,
    ServerAlreadyRunning,
    find_local_tiled,
    local_tiled,
)
from support import only

COMMAND = Path(sys.executable).parent / "bluesky-timelapse"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return status.rpartition(")")[2].split()[0] == "Z"


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_run_round_trips_and_the_catalog_survives_a_restart(RE, documents, local_server):
    frames = local_server.readable_storage[0]
    client = local_server.client()
    assert "CatalogOfBlueskyRuns" in [spec.name for spec in client.specs]
    RE.subscribe(TiledWriter(client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    camera = SimCamera(
        name="cam",
        root=str(frames),
        write_path_template="hdf5/%Y/%m/%d",
        writer="hdf5",
        shape=(24, 32),
        time_scale=3600.0,
    )
    (uid,) = RE(count([camera], num=4)).run_start_uids

    events = only(documents, "event")
    produced = np.stack([camera.scene.render(e["data"]["cam_scene_time"]) for e in events])
    np.testing.assert_array_equal(client[uid]["primary"]["cam_image"].read(), produced)

    replayed = list(client[uid].documents())
    names = [name for name, _ in replayed]
    assert names[0] == "start" and names[-1] == "stop"
    for name in ("start", "descriptor", "stop"):
        assert [d["uid"] for d in only(replayed, name)] == [
            d["uid"] for d in only(documents, name)
        ]
    replayed_events = only(replayed, "event")
    assert [e["seq_num"] for e in replayed_events] == [e["seq_num"] for e in events]
    assert [e["data"]["cam_scene_time"] for e in replayed_events] == [
        e["data"]["cam_scene_time"] for e in events
    ]

    key, uri = local_server.api_key, local_server.uri
    local_server.stop()
    assert not local_server.running
    assert not local_server.state_file.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{uri}/api/v1/", trust_env=False)
    assert LocalTiled(local_server.directory).api_key == key

    local_server.start()
    assert local_server.uri == uri  # the same object comes back on its port
    assert local_server.key_file.read_text() == key
    run = local_server.client()[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    np.testing.assert_array_equal(run["primary"]["cam_image"].read(), produced)


def test_requests_without_the_key_are_refused(local_server):
    url = f"{local_server.uri}/api/v1/metadata/"
    assert httpx.get(url, trust_env=False).status_code == 401
    wrong = {"Authorization": "Apikey 0123456789abcdef"}
    assert httpx.get(url, headers=wrong, trust_env=False).status_code == 401
    right = {"Authorization": f"Apikey {local_server.api_key}"}
    response = httpx.get(url, headers=right, trust_env=False)
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["specs"] == [
        {"name": "CatalogOfBlueskyRuns", "version": "3.0"}
    ]


def test_files_are_private(local_server):
    assert mode(local_server.directory) == 0o700
    for path in (
        local_server.key_file,
        local_server.config_file,
        local_server.log_file,
        local_server.state_file,
    ):
        assert mode(path) == 0o600, path
    assert len(local_server.key_file.read_text()) == 64


def test_the_key_appears_in_no_log_argv_environment_or_repr(local_server):
    key = local_server.api_key
    # A browser may put the key in the query string; the access log must not keep it.
    url = f"{local_server.uri}/api/v1/metadata/"
    assert httpx.get(url, params={"api_key": key}, trust_env=False).status_code == 200
    list(local_server.client())  # the client sends the key as a header
    assert wait_until(lambda: "api_key=[redacted]" in local_server.log_file.read_text(), 5)

    log = local_server.log_file.read_text()
    assert key not in log
    assert "api_key=" not in log.replace("api_key=[redacted]", "")  # no banner link either
    for path in local_server.directory.glob("*.log"):
        assert key not in path.read_text()
    pid = local_server.pid
    assert key.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert key.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
    assert key not in repr(local_server)
    assert key not in repr(local_server.target) and key not in str(local_server.target)
    assert key not in local_server.state_file.read_text()
    assert local_server.uri.startswith("http://127.0.0.1:")


def test_a_second_server_on_the_same_directory_names_the_running_one(local_server):
    second = LocalTiled(local_server.directory)
    with pytest.raises(ServerAlreadyRunning, match=re.escape(local_server.uri)) as raised:
        second.start()
    assert raised.value.uri == local_server.uri
    assert raised.value.pid == local_server.pid
    assert not second.running
    assert local_server.key_file.read_text() not in str(raised.value)


def test_a_server_that_does_not_answer_in_time_is_killed_and_named(tmp_path):
    server = LocalTiled(tmp_path / "tiled")
    with pytest.raises(TimeoutError, match=re.escape(str(server.log_file))) as raised:
        server.start(timeout=0.0)
    assert "bluesky-timelapse: starting on 127.0.0.1:" in str(raised.value)
    assert not server.running
    assert server.api_key not in str(raised.value)
    assert not server.state_file.exists()


def test_a_taken_port_is_refused_before_starting(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(OSError, match=rf"port {port} on 127.0.0.1 is in use; choose another"),
            local_tiled(tmp_path / "tiled", port=port),
        ):
            pass
    assert not (tmp_path / "tiled" / "server.log").exists()


def test_a_server_that_exits_at_once_is_reported_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/sh")  # runs the Python program as a script
    server = LocalTiled(tmp_path / "tiled")
    with pytest.raises(RuntimeError, match="exited before answering") as raised:
        server.start()
    assert str(server.log_file) in str(raised.value)
    assert "bluesky-timelapse: starting on 127.0.0.1:" in str(raised.value)
    assert not server.running
    with FileLock(tmp_path / "tiled" / ".server.lock").acquire(timeout=0):
        pass  # nothing left holding the directory


def test_bad_arguments_fail_at_construction(tmp_path):
    with pytest.raises(ValueError, match=r"port 70000 is not allowed; give 1-65535, or 0"):
        LocalTiled(tmp_path, port=70000)
    with pytest.raises(ValueError, match="sequence of directories"):
        LocalTiled(tmp_path, readable_storage=tmp_path)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())
    assert "not running" in repr(LocalTiled(tmp_path))
    with pytest.raises(RuntimeError, match=r"is not running; call start\(\)"):
        LocalTiled(tmp_path).uri  # noqa: B018


class Output:
    """Lines of a child's stdout, collected by a thread so that reads can time out."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.text: list[str] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            self.text.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no {pattern!r} within {timeout} s in:\n{''.join(self.text)}")

    def rest(self) -> str:
        while not self.lines.empty():
            self.text.append(self.lines.get())
        return "".join(self.text)


def serve(data_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [COMMAND, "serve", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def serve_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for the ``serve`` tests: the catalog is initialised only once."""
    return tmp_path_factory.mktemp("serve")


def test_serve_command_prints_where_the_key_is_and_stops_on_ctrl_c(serve_dir):
    tmp_path = serve_dir
    process = serve(tmp_path)
    try:
        output = Output(process)
        uri = output.wait_for(r"Tiled at (http://127\.0\.0\.1:\d+)", timeout=60).group(1)
        output.wait_for("press Ctrl-C to stop", timeout=5)
        key_file = tmp_path / "tiled" / "api_key"
        key = key_file.read_text()
        headers = {"Authorization": f"Apikey {key}"}
        assert httpx.get(f"{uri}/api/v1/metadata/", headers=headers, trust_env=False).is_success
        server_pid = int(
            re.search(r'"pid": (\d+)', (tmp_path / "tiled" / "server.json").read_text())[1]
        )

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        text = output.rest()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert str(key_file) in text
    assert "stopped" in text
    assert key not in text
    assert key not in (tmp_path / "tiled" / "server.log").read_text()
    assert gone(server_pid)
    assert (tmp_path / "frames").is_dir()


def test_a_server_whose_owner_is_killed_stops_by_itself(serve_dir):
    tmp_path = serve_dir
    process = serve(tmp_path)
    server_pid = None
    try:
        Output(process).wait_for(r"press Ctrl-C to stop", timeout=60)
        state = (tmp_path / "tiled" / "server.json").read_text()
        server_pid = int(re.search(r'"pid": (\d+)', state)[1])
        process.kill()  # SIGKILL: no clean-up in the owner
        process.wait()
        assert wait_until(lambda: gone(server_pid), timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if server_pid is not None and not gone(server_pid):
            os.kill(server_pid, signal.SIGKILL)
    assert find_local_tiled(tmp_path / "tiled") is None
