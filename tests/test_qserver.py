"""``bluesky_timelapse.qserver`` in a real RE Manager, with Redis, an RE Worker and Tiled."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

pytest.importorskip(
    "bluesky_queueserver", reason="bluesky-queueserver is missing (pip install -e '.[test]')"
)
pytest.importorskip(
    "bluesky_queueserver_api",
    reason="bluesky-queueserver-api is missing (pip install -e '.[test]')",
)

from bluesky_queueserver_api import BPlan
from bluesky_queueserver_api.comm_base import RequestFailedError
from bluesky_queueserver_api.zmq import REManagerAPI

import bluesky_timelapse
from bluesky_timelapse.tiled import connect, find_local_tiled

pytestmark = [
    pytest.mark.skipif(
        shutil.which("redis-server") is None,
        reason="redis-server not found (apt-get install redis-server)",
    ),
    pytest.mark.timeout(600),
]

BIN = Path(sys.executable).parent
START_TIMEOUT = 180.0  # environment open: the worker imports bluesky, ophyd, starts Tiled
RUN_TIMEOUT = 180.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` s; nothing if it has gone."""
    try:
        process = psutil.Process(pid)
        process.terminate()
        process.wait(timeout)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
            process.wait(10)


def _tiled_pid(data_dir: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        state = json.loads((data_dir / "tiled" / "server.json").read_text())
        if isinstance(state.get("pid"), int):
            return int(state["pid"])
    return None


@dataclass
class Manager:
    RM: Any
    data_dir: Path
    log: Path

    def status(self) -> dict[str, Any]:
        return dict(self.RM.status())

    def wait_for_state(self, manager_state: str, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
        return _wait(
            lambda: (s := self.status())["manager_state"] == manager_state and s,
            timeout,
            f"manager_state {manager_state!r} (log: {self.log})",
        )

    def last_history_item(self) -> dict[str, Any]:
        return dict(self.RM.history_get()["items"][-1])


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    root = tmp_path_factory.mktemp("qserver")
    data_dir = root / "data"
    data_dir.mkdir()
    redis_port, control_port, info_port = _free_port(), _free_port(), _free_port()
    log = root / "re-manager.log"
    pids: list[int] = []
    env = {**os.environ, "BLUESKY_TIMELAPSE_DIR": str(data_dir)}
    env.pop("BLUESKY_TIMELAPSE_TILED_URI", None)
    redis = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(redis_port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=(root / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    manager_process: subprocess.Popen[bytes] | None = None
    RM: Any = None
    try:
        _wait(lambda: _port_open(redis_port), 30, "redis-server")
        # The documented command line, with this test's Redis and ports added.
        documented = shlex.split(
            subprocess.check_output(
                [sys.executable, "-m", "bluesky_timelapse.qserver", str(data_dir)], text=True
            )
        )
        assert documented[:3] == [
            "start-re-manager",
            "--startup-module",
            "bluesky_timelapse.qserver",
        ]
        permissions = Path(documented[documented.index("--user-group-permissions") + 1])
        assert permissions.name == "_qserver_permissions.yaml"
        assert permissions.parent == Path(bluesky_timelapse.__file__).absolute().parent
        assert permissions.is_file()
        (data_dir / "qserver").mkdir()
        manager_process = subprocess.Popen(
            [
                str(BIN / "start-re-manager"),
                *documented[1:],
                "--redis-addr",
                f"127.0.0.1:{redis_port}",
                "--zmq-control-addr",
                f"tcp://127.0.0.1:{control_port}",
                "--zmq-info-addr",
                f"tcp://127.0.0.1:{info_port}",
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
        )
        RM = REManagerAPI(
            zmq_control_addr=f"tcp://127.0.0.1:{control_port}",
            zmq_info_addr=f"tcp://127.0.0.1:{info_port}",
            timeout_recv=10,
        )
        handle = Manager(RM, data_dir, log)
        _wait(lambda: _answers(RM), 60, f"RE Manager to answer (log: {log})")
        RM.environment_open()
        RM.wait_for_idle(timeout=START_TIMEOUT)
        status = handle.status()
        assert status["worker_environment_exists"], log.read_text()[-3000:]
        yield handle
    finally:
        # The worker and the embedded Tiled server it started are children of
        # children: collect their pids before anything exits.
        if manager_process is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                pids += [p.pid for p in psutil.Process(manager_process.pid).children(True)]
        tiled = _tiled_pid(data_dir)
        if RM is not None:
            with contextlib.suppress(Exception):
                RM.environment_close()
                RM.wait_for_idle(timeout=60)
            RM.close()
        for pid in [*pids, tiled] if tiled is not None else pids:
            _stop(pid)
        if manager_process is not None:
            _stop(manager_process.pid)
        _stop(redis.pid)
        leftovers = [pid for pid in [*pids, tiled or 0] if psutil.pid_exists(pid) and pid]
        assert not leftovers, f"processes left running: {leftovers}"


def _answers(RM: Any) -> bool:
    try:
        RM.status()
    except Exception:
        return False
    return True


@pytest.fixture
def rm(manager: Manager) -> Iterator[Manager]:
    """The manager, idle with an empty queue before and after the test."""
    manager.RM.queue_clear()
    yield manager
    status = manager.status()
    if status["manager_state"] == "paused":
        manager.RM.re_stop()
    with contextlib.suppress(Exception):
        manager.RM.queue_stop()
    manager.wait_for_state("idle")
    manager.RM.queue_clear()


def _tiled_client(data_dir: Path) -> Any:
    target = find_local_tiled(data_dir / "tiled")
    assert target is not None, "the worker's embedded Tiled server is not running"
    return connect(target, trust_env=False)


def test_the_worker_namespace(rm: Manager) -> None:
    plans = rm.RM.plans_allowed()["plans_allowed"]
    devices = rm.RM.devices_allowed()["devices_allowed"]
    assert {"timelapse", "resume_timelapse", "count"} <= set(plans)
    assert "camera" in devices
    assert not [name for name in [*plans, *devices] if name.startswith("_")]
    grace = next(p for p in plans["timelapse"]["parameters"] if p["name"] == "grace")
    assert grace["min"] == "0"
    assert (rm.data_dir / "qserver" / "existing_plans_and_devices.yaml").is_file()
    assert _tiled_pid(rm.data_dir) is not None  # the worker started the embedded server


def test_a_timelapse_of_three_slots_runs_and_reaches_tiled(rm: Manager) -> None:
    schedule = {"kind": "every", "interval": 1, "count": 3}
    rm.RM.item_add(BPlan("timelapse", ["camera"], schedule, md={"sample": "qserver"}))
    rm.RM.queue_start()
    rm.RM.wait_for_idle(timeout=RUN_TIMEOUT)

    item = rm.last_history_item()
    assert item["name"] == "timelapse"
    assert item["result"]["exit_status"] == "completed", item["result"]
    uids = item["result"]["run_uids"]
    assert len(uids) == 3

    client = _tiled_client(rm.data_dir)
    # The sink forwards in the background: wait until every run has its stop.
    _wait(
        lambda: all(uid in client and client[uid].metadata.get("stop") for uid in uids),
        60,
        "the three runs in Tiled",
    )
    starts = [client[uid].metadata["start"] for uid in uids]
    assert sorted(start["slot_index"] for start in starts) == [0, 1, 2]
    assert {start["timelapse_id"] for start in starts} == {starts[0]["timelapse_id"]}
    assert {start["sample"] for start in starts} == {"qserver"}
    assert all(client[uid].metadata["stop"]["exit_status"] == "success" for uid in uids)
    frames = client[uids[0]]["primary"].read()
    assert "camera_image" in frames or any("image" in key for key in frames)


def test_a_running_timelapse_pauses_resumes_and_stops(rm: Manager) -> None:
    schedule = {"kind": "every", "interval": 1, "count": 120}
    rm.RM.item_add(BPlan("timelapse", ["camera"], schedule))
    rm.RM.queue_start()
    _wait(
        lambda: (
            (s := rm.status())["manager_state"] == "executing_queue" and s["re_state"] == "running"
        ),
        RUN_TIMEOUT,
        "the timelapse to run",
    )

    rm.RM.re_pause("deferred")  # at the checkpoint before the next slot
    status = rm.wait_for_state("paused")
    assert status["re_state"] == "paused"

    rm.RM.re_resume()
    status = rm.wait_for_state("executing_queue")
    _wait(lambda: rm.status()["re_state"] == "running", 60, "re_state 'running'")

    rm.RM.re_pause("immediate")
    rm.wait_for_state("paused")
    rm.RM.re_stop()
    rm.RM.wait_for_idle(timeout=RUN_TIMEOUT)
    status = rm.status()
    assert status["re_state"] == "idle"
    assert status["queue_stop_pending"] is False
    item = rm.last_history_item()
    assert item["name"] == "timelapse"
    assert item["result"]["exit_status"] == "stopped", item["result"]
    assert 1 <= len(item["result"]["run_uids"]) < 120


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ([{"kind": "every", "interval": 60}], {"grace": -1}, "key='grace', value='-1'"),
        ([{"kind": "every", "interval": 60}], {"lead": -0.5}, "out of range"),
        (
            [{"kind": "every", "interval": 60}],
            {"missed": "later"},
            "Input should be 'skip', 'catch_up' or 'run_all'",
        ),
        ([5], {}, "schedule"),
        ([{"kind": "every", "interval": 60}], {"no_such_parameter": 1}, "no_such_parameter"),
    ],
)
def test_bad_parameters_are_rejected_at_item_add(
    rm: Manager, args: list[Any], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequestFailedError) as raised:
        rm.RM.item_add(BPlan("timelapse", ["camera"], *args, **kwargs))
    assert message in str(raised.value)
    assert rm.RM.queue_get()["items"] == []


def test_the_other_plans_pass_item_add(rm: Manager) -> None:
    # Their type hints must resolve for the queue's validation (a string
    # annotation such as "Readable" would make item_add fail).
    rm.RM.item_add(BPlan("resume_timelapse", "basil-1", ["camera"], missed="skip"))
    rm.RM.item_add(BPlan("ingest_backlog", "camera", md={"note": "backlog"}))
    assert [item["name"] for item in rm.RM.queue_get()["items"]] == [
        "resume_timelapse",
        "ingest_backlog",
    ]


def test_a_bad_schedule_of_the_right_type_fails_at_plan_start(rm: Manager) -> None:
    # The queue validates types and ranges only: the schedule's own fields are
    # checked when the plan starts, before anything is recorded.
    rm.RM.item_add(BPlan("timelapse", ["camera"], {"kind": "fortnightly"}))
    rm.RM.queue_start()
    rm.RM.wait_for_idle(timeout=RUN_TIMEOUT)
    item = rm.last_history_item()
    assert item["result"]["exit_status"] == "failed"
    assert "fortnightly" in item["result"]["msg"]
    assert item["result"]["run_uids"] == []
