"""``configure``: a real RunEngine, a real embedded Tiled server, real plugins."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bluesky.plan_stubs
import bluesky.plans
import numpy as np
import pytest

from bluesky_timelapse.callbacks import LivePreview, TiledSink, TimelapseProgress
from bluesky_timelapse.data_dir import DataDirectory
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.persistence import TimelapseStore
from bluesky_timelapse.plans import timelapse
from bluesky_timelapse.plugins import DEVICES, PLANS, available
from bluesky_timelapse.schedules import every
from bluesky_timelapse.session import configure, current_session
from bluesky_timelapse.suspenders import SuspendLowDiskSpace, SuspendWhenTiledBacklog
from bluesky_timelapse.tiled import LocalTiled, find_local_tiled


@pytest.fixture(autouse=True)
def no_tiled_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLUESKY_TIMELAPSE_TILED_URI", raising=False)
    monkeypatch.delenv("TILED_API_KEY", raising=False)


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory whose embedded server runs for the whole module.

    Sessions on it find the server (as they find ``bluesky-timelapse serve``) and
    connect to it instead of starting their own: one server start for many tests.
    """
    directory = tmp_path_factory.mktemp("shared")
    with LocalTiled(directory / "tiled", readable_storage=[directory / "frames"]):
        yield directory


def make_camera(data_dir: Path) -> SimCamera:
    return SimCamera(
        name="camera",
        root=str(data_dir / "frames"),
        write_path_template="%Y/%m/%d",
        writer="hdf5",
        shape=(24, 32),
        dtype="uint8",
    )


def test_count_goes_to_the_embedded_tiled_it_starts_and_close_stops_it(tmp_path):
    namespace: dict = {}
    session = configure(namespace, data_dir=tmp_path, progress=False)
    try:
        assert session.server is not None and session.server.running
        assert session.server.uri.startswith("http://127.0.0.1:")
        assert session.tiled_uri == session.server.uri
        camera = make_camera(tmp_path)
        result = namespace["RE"](namespace["count"]([camera], num=2))
        (uid,) = result.run_start_uids
        assert session.sink.flush(60)
        run = session.tiled[uid]
        assert run.metadata["stop"]["exit_status"] == "success"
        assert run.metadata["stop"]["num_events"] == {"primary": 2}
        frames = run["primary"]["camera_image"].read()
        assert frames.shape == (2, 24, 32)
        assert frames.dtype == np.uint8
    finally:
        session.close()
    assert not session.server.running
    assert find_local_tiled(tmp_path / "tiled") is None
    assert session.closed
    assert list((tmp_path / "journal").glob("*.jsonl")) == []  # everything acknowledged
    with pytest.raises(RuntimeError, match="no session is open"):
        current_session()


def test_scan_id_survives_a_restart(shared_dir):
    with configure(data_dir=shared_dir, progress=False) as first:
        assert first.server is None  # the module's server was found and used
        first.RE(bluesky.plans.count([], num=1))
        scan_id = first.RE.md["scan_id"]
    with configure(data_dir=shared_dir, progress=False) as second:
        assert second is not first and second.RE is not first.RE
        assert second.RE.md["scan_id"] == scan_id
        starts: list = []
        second.RE.subscribe(lambda name, doc: starts.append(doc), "start")
        second.RE(bluesky.plans.count([], num=1))
        assert starts[0]["scan_id"] == scan_id + 1
    assert (shared_dir / "md.json").is_file()


def test_configuring_twice_returns_the_same_session_and_subscribes_once(shared_dir, tmp_path):
    first_ns: dict = {}
    second_ns: dict = {}
    session = configure(first_ns, data_dir=shared_dir, progress=False)
    try:
        callbacks = {
            name: len(callbacks)
            for name, callbacks in session.RE.dispatcher.cb_registry.callbacks.items()
        }
        again = configure(second_ns, data_dir=shared_dir, progress=False)
        assert again is session and current_session() is session
        assert second_ns["RE"] is first_ns["RE"] is session.RE
        assert {
            name: len(callbacks)
            for name, callbacks in session.RE.dispatcher.cb_registry.callbacks.items()
        } == callbacks
        assert len(session.RE.suspenders) == 2
        documents: list = []
        session.RE.subscribe(lambda name, doc: documents.append(name))
        (uid,) = session.RE(bluesky.plans.count([make_camera(shared_dir)], num=1)).run_start_uids
        assert session.sink.flush(60)
        assert session.tiled[uid].metadata["stop"]["num_events"] == {"primary": 1}
        assert documents.count("start") == 1
        with pytest.raises(RuntimeError, match="a session is already open"):
            configure(data_dir=tmp_path)
        assert not (tmp_path / "journal").exists()  # refused before anything was made
    finally:
        session.close()
    session.close()  # a second close does nothing


def test_namespace_holds_plugin_plans_and_device_classes(shared_dir):
    namespace: dict = {}
    with configure(namespace, data_dir=shared_dir, progress=False) as session:
        broken = {plugin.plugin.name for plugin in session.broken_plugins}
        for plugin in available(PLANS):
            assert plugin.name in namespace or plugin.name in broken
            if plugin.name in namespace:
                assert inspect.isgeneratorfunction(inspect.unwrap(namespace[plugin.name]))
        for plugin in available(DEVICES):
            assert plugin.name in namespace or plugin.name in broken
            if plugin.name in namespace:
                assert inspect.isclass(namespace[plugin.name])  # never an instance
        assert {"timelapse", "resume_timelapse", "SimCamera", "FolderCamera"} <= set(namespace)
        assert namespace["count"] is bluesky.plans.count
        assert namespace["bps"] is bluesky.plan_stubs
        assert isinstance(namespace["sink"], TiledSink)
        assert namespace["session"] is session
        assert namespace["tiled"] is session.tiled
        assert namespace["bec"] is session.bec
        assert namespace["every"]("1s", count=3).to_dict()["count"] == 3


def test_suspenders_log_file_and_progress_are_optional(shared_dir, tmp_path):
    with configure(data_dir=shared_dir, progress=False, min_free="1B") as session:
        kinds = {type(suspender) for suspender in session.RE.suspenders}
        assert kinds == {SuspendLowDiskSpace, SuspendWhenTiledBacklog}
        assert session.RE.waiting_hook is None
        assert (session.progress, session.preview) == (None, None)
        assert session.log_file == DataDirectory(shared_dir).log_file
        assert "session configured" in session.log_file.read_text()
        assert session.bec._plots_enabled is False
    assert session.RE.suspenders == ()
    log = tmp_path / "elsewhere.log"
    with configure(data_dir=shared_dir, suspenders=False, log_file=log, preview=True) as session:
        assert session.RE.suspenders == ()
        assert session.RE.waiting_hook is not None
        assert isinstance(session.progress, TimelapseProgress)
        assert isinstance(session.preview, LivePreview)
        assert session.log_file == log and log.is_file()
    with configure(data_dir=shared_dir, log_file=False) as session:
        assert session.log_file is None


def test_tiled_uri_sends_to_that_server_and_starts_none(shared_dir, tmp_path):
    server = find_local_tiled(shared_dir / "tiled")
    assert server is not None and server.uri is not None
    data_dir = tmp_path / "rig"
    with configure(
        data_dir=data_dir, tiled_uri=server.uri, api_key=server.api_key, progress=False
    ) as session:
        assert session.server is None and session.tiled_uri == server.uri
        (uid,) = session.RE(bluesky.plans.count([], num=1)).run_start_uids
        assert session.sink.flush(60)
        assert uid in session.tiled
    assert not (data_dir / "tiled").exists()


def test_the_store_and_other_defaults_follow_the_open_session(shared_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("BLUESKY_TIMELAPSE_DIR", str(tmp_path / "elsewhere"))
    with configure(data_dir=shared_dir, progress=False) as session:
        assert DataDirectory.default().root == shared_dir
        assert TimelapseStore().directory == shared_dir / "timelapses"
        camera = make_camera(shared_dir)
        schedule = every(0.2, count=1, start=datetime.now(UTC) + timedelta(seconds=0.3))
        timelapse_id = session.RE(timelapse([camera], schedule.to_dict())).plan_result
        assert TimelapseStore(shared_dir / "timelapses").exists(timelapse_id)
    assert DataDirectory.default().root == tmp_path / "elsewhere"
