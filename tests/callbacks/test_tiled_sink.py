"""TiledSink against a real Tiled server: round trips, an outage, a crash, bad input."""

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import bluesky.plan_stubs as bps
import numpy as np
import psutil
import pytest
import tiled.client.utils
from bluesky.plans import count
from tiled.client import from_uri

from bluesky_timelapse.callbacks import TiledSink, read_health
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.tiled import LocalTiled, TiledTarget
from support import WRITERS, only, validate

SINK_PROCESS = Path(__file__).with_name("sink_process.py")

NOWHERE = TiledTarget("http://127.0.0.1:9")
"""A target no server answers at: for sinks that must fail, or need not forward, at once."""


class Server:
    """A Tiled server process that can be stopped and started again (same port if free)."""

    def __init__(self, directory: Path, data: Path):
        self.data = data
        self._tiled = LocalTiled(directory, readable_storage=[data])
        self.uri = ""  # the last URI it served at: refused while it is stopped

    @property
    def api_key(self) -> str:
        return self._tiled.api_key

    def start(self) -> None:
        self._tiled.start()
        self.uri = self._tiled.uri

    def stop(self) -> None:
        self._tiled.stop()

    @property
    def target(self) -> TiledTarget:
        return TiledTarget(self.uri, self.api_key)

    def client(self):
        return from_uri(self.uri, api_key=self.api_key, trust_env=False)

    def sink(self, journal, forward_in="process", **kwargs):
        """A TiledSink forwarding to this server from a child process or a thread."""
        client = self.target if forward_in == "process" else self.client
        return TiledSink(journal, client, forward_in=forward_in, **kwargs)


@pytest.fixture
def server(tmp_path):
    (tmp_path / "data").mkdir()
    server = Server(tmp_path / "tiled", tmp_path / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def short_client_retries(monkeypatch):
    """Make the Tiled client give up after about 2 s, so outages outlast its retries.

    Here and, through the environment, in forwarding processes started from here.
    """
    monkeypatch.setattr(tiled.client.utils, "TILED_RETRY_ATTEMPTS", 2)
    monkeypatch.setattr(tiled.client.utils, "TILED_RETRY_TIMEOUT", 2.0)
    monkeypatch.setenv("TILED_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("TILED_RETRY_TIMEOUT", "2.0")


@pytest.fixture(params=["process", "thread"])
def forward_in(request):
    """Where the sink's forwarder runs: both ways must keep every promise."""
    return request.param


def camera(server, writer="hdf5", **kwargs):
    return SimCamera(
        name="cam",
        root=str(server.data),
        write_path_template=writer,
        writer=writer,
        shape=(16, 24),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("writer", "forward_in"), [(writer, "process") for writer in WRITERS] + [("hdf5", "thread")]
)
def test_runs_arrive_in_tiled_equal_to_the_frames(
    RE, documents, server, tmp_path, writer, forward_in
):
    sink = server.sink(tmp_path / "journal", forward_in)
    RE.subscribe(sink)
    cam = camera(server, writer)
    uids = RE(count([cam], num=4)).run_start_uids
    assert sink.flush(60)
    sink.close()
    validate(documents)
    run = server.client()[uids[0]]
    assert run.metadata["stop"]["exit_status"] == "success"
    events = only(documents, "event")
    produced = np.stack([cam.scene.render(e["data"]["cam_scene_time"]) for e in events])
    np.testing.assert_array_equal(run["primary"]["cam_image"].read(), produced)
    # Acknowledged journals are deleted: the disk is bounded.
    assert sorted(p.name for p in (tmp_path / "journal").glob("*.jsonl")) == []


def test_the_runengine_pays_a_local_append_per_document(RE, documents, server, tmp_path):
    sink = server.sink(tmp_path / "journal", retry_initial=0.2, retry_max=1.0)
    timings = []
    journaled = []  # after each call: (its document's name, the journal's last entry, lines)

    def timed(name, doc):
        started = time.perf_counter()
        sink(name, doc)
        timings.append(time.perf_counter() - started)
        (journal,) = (tmp_path / "journal").glob("*.jsonl")
        lines = journal.read_bytes().splitlines()
        journaled.append((name, json.loads(lines[-1]), len(lines)))

    server.stop()  # nothing can be forwarded: the RunEngine must not notice
    RE.subscribe(timed)
    RE(count([camera(server)], num=50))
    assert len(journaled) == len(documents)
    assert [name for name, _ in documents].count("event") == 50
    for index, ((name, doc), (called, last, lines)) in enumerate(
        zip(documents, journaled, strict=True)
    ):
        assert called == name == last["name"], index
        assert lines == index + 1, f"document {index} ({name}) was not appended alone"
        for key in ("uid", "datum_id"):
            if key in doc:
                assert last["doc"][key] == doc[key], index
    timings.sort()
    print(f"RunEngine cost per document: median {timings[len(timings) // 2] * 1e3:.3f} ms")

    server.start()
    assert sink.flush(120)
    sink.close()
    assert sink.health().queue_depth == 0
    (uid,) = {doc["uid"] for name, doc in documents if name == "start"}
    assert server.client()[uid]["primary"]["cam_image"].shape[0] == 50


def test_an_outage_longer_than_the_client_retries_loses_and_doubles_nothing(
    RE, documents, server, tmp_path, short_client_retries, forward_in
):
    sink = server.sink(tmp_path / "journal", forward_in, retry_initial=0.2, retry_max=1.0)
    RE.subscribe(sink)
    cam = camera(server)
    durations = []

    def acquisition():
        for n in range(6):
            started = time.monotonic()
            yield from count([cam], num=3, md={"n": n})
            durations.append(time.monotonic() - started)
            yield from bps.sleep(0.5)

    outage = threading.Timer(0.7, server.stop)
    outage.start()
    RE(acquisition())  # never raises, never waits for the server
    outage.join()
    assert sink.health().queue_depth > 0  # the documents wait in the journal
    deadline = time.monotonic() + 30
    while (during := sink.health()).last_error is None:  # the client's retries ran out
        assert time.monotonic() < deadline
        time.sleep(0.1)
    print(f"server down, after the client gave up: {during}")
    assert not during.connected
    server.start()
    assert sink.flush(120)
    sink.close()

    assert max(durations) < 1.5  # no run waited on the network
    starts = only(documents, "start")
    client = server.client()
    assert sorted(client) == sorted(doc["uid"] for doc in starts)  # each run exactly once
    for start in starts:
        run = client[start["uid"]]
        assert run.metadata["stop"]["exit_status"] == "success"
        assert run["primary"]["cam_image"].shape == (3, 16, 24)
    assert sink.health().last_error is None


def test_a_killed_process_leaves_a_journal_the_next_sink_completes(server, tmp_path, forward_in):
    journal = tmp_path / "journal"
    arguments = [
        sys.executable, str(SINK_PROCESS), "--journal", str(journal), "--data", str(server.data),
        "--uri", server.uri, "--api-key", server.api_key, "--runs", "3", "--events", "40",
        "--forward-in", forward_in,
    ]  # fmt: skip
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, text=True)
    acquired = 0
    forwarder = None
    for line in process.stdout:
        if line.startswith("FORWARDER"):
            forwarder = psutil.Process(int(line.split()[1]))
        if line.startswith("ACQUIRED"):
            acquired += 1
        if acquired == 3 and line.startswith("BACKLOG") and int(line.split()[1]) > 10:
            break  # killed while documents are still only in the journal
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    if forward_in == "process":  # the orphaned forwarder stops at once, forwarding nothing more
        assert forwarder is not None
        forwarder.wait(timeout=10)
    left = sorted(journal.glob("*.jsonl"))
    assert left, "the kill came too late: nothing was left in the journal"

    starts = [json.loads(path.open().readline())["doc"] for path in left]
    sink = server.sink(journal, forward_in)
    assert sink.flush(120)
    sink.close()
    client = server.client()
    assert len(client) == 3  # every run once: no partial copy left behind
    for start in starts:
        run = client[start["uid"]]
        assert run.metadata["stop"]["exit_status"] == "success"
        assert run["primary"]["cam_image"].shape == (40, 16, 16)
    assert list(journal.glob("*.jsonl")) == []


def test_a_run_the_process_never_closed_gets_an_abort_stop(server, tmp_path, forward_in):
    journal = tmp_path / "journal"
    arguments = [
        sys.executable, str(SINK_PROCESS), "--journal", str(journal), "--data", str(server.data),
        "--uri", "http://127.0.0.1:9", "--api-key", "x", "--runs", "1", "--events", "50",
        "--exposure", "0.1",
    ]  # fmt: skip
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while (
        not list(journal.glob("*.jsonl"))
        or journal.glob("*.jsonl").__next__().stat().st_size < 3000
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # mid-run: no stop document
    process.wait(timeout=30)
    (path,) = journal.glob("*.jsonl")
    with path.open("ab") as file:
        file.write(b'{"name": "event", "doc": {"trunc')  # the line the kill cut short
    uid = json.loads(path.open().readline())["doc"]["uid"]

    sink = server.sink(journal, forward_in)
    assert sink.flush(120)
    sink.close()
    run = server.client()[uid]
    stop = run.metadata["stop"]
    assert stop["exit_status"] == "abort"
    assert "ended without closing it" in stop["reason"]
    (aside,) = journal.glob("*.corrupt-tail-*")
    assert aside.read_bytes() == b'{"name": "event", "doc": {"trunc'


def test_an_unreachable_server_at_start_only_delays_forwarding(
    RE, server, tmp_path, caplog, short_client_retries, forward_in
):
    server.stop()
    with caplog.at_level(logging.WARNING, logger="bluesky_timelapse"):
        sink = server.sink(tmp_path / "journal", forward_in, retry_initial=0.2, retry_max=1.0)
        RE.subscribe(sink)
        (uid,) = RE(count([camera(server)], num=2)).run_start_uids
        deadline = time.monotonic() + 30
        while sink.health().last_error is None:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert "could not send run" in caplog.text and "stays in the journal" in caplog.text
    assert server.api_key not in caplog.text
    server.start()
    assert sink.flush(120)
    sink.close()
    assert server.client()[uid].metadata["stop"]["exit_status"] == "success"


def test_a_wrong_api_key_stops_forwarding_with_a_clear_error(
    RE, server, tmp_path, caplog, forward_in
):
    def wrong_key():
        return from_uri(server.uri, api_key="not-the-key", trust_env=False)

    client = TiledTarget(server.uri, "not-the-key") if forward_in == "process" else wrong_key
    with caplog.at_level(logging.ERROR, logger="bluesky_timelapse"):
        sink = TiledSink(tmp_path / "journal", client, forward_in=forward_in)
        RE.subscribe(sink)
        RE(count([camera(server)], num=1))
        assert not sink.flush(5)
    health = sink.health()
    sink.close(timeout=0.1)
    assert health.queue_depth > 0
    assert "refused the API key" in caplog.text
    assert "not-the-key" not in caplog.text
    assert "refused the API key" in health.last_error
    assert len(list((tmp_path / "journal").glob("*.jsonl"))) == 1  # kept for later


def test_an_unwritable_journal_directory_fails_before_any_run(unwritable_directory):
    with pytest.raises(PermissionError, match="cannot keep a journal in"):
        TiledSink(unwritable_directory / "journal", NOWHERE)


def test_one_sink_per_journal_directory(tmp_path):
    first = TiledSink(tmp_path / "journal", NOWHERE)
    try:
        with pytest.raises(RuntimeError, match="is in use by another TiledSink"):
            TiledSink(tmp_path / "journal", NOWHERE, forward_in="thread")
    finally:
        first.close()


def test_health_is_published_for_other_processes(RE, server, tmp_path):
    sink = server.sink(tmp_path / "journal")
    RE.subscribe(sink)
    RE(count([camera(server)], num=2))
    assert sink.flush(60)
    sink.close()
    health = read_health(tmp_path / "journal")
    assert health is not None and health.queue_depth == 0 and health.last_error is None
    assert os.stat(tmp_path / "journal").st_mode & 0o777 == 0o700


def test_events_are_readable_while_the_run_is_open_whatever_the_batch_size(
    RE, documents, server, tmp_path
):
    sink = server.sink(tmp_path / "journal", batch_size=50)
    RE.subscribe(sink)
    cam = camera(server)
    seen: dict[str, object] = {}

    def readable_rows(uid):
        try:
            return server.client()[uid]["primary"]["cam_image"].shape[0]
        except (KeyError, IndexError):
            return 0

    def plan():
        uid = yield from bps.open_run()
        yield from bps.stage(cam)
        for _ in range(3):
            yield from bps.trigger_and_read([cam])
        deadline = time.monotonic() + 60
        while (rows := readable_rows(uid)) < 3 and time.monotonic() < deadline:
            yield from bps.sleep(0.1)  # the run stays open meanwhile
        seen["rows while open"] = rows
        yield from bps.unstage(cam)
        yield from bps.close_run()

    RE(plan())
    assert sink.flush(60)
    sink.close()
    validate(documents)
    assert seen["rows while open"] == 3  # 3 events < batch_size, written once caught up
    events = only(documents, "event")
    (uid,) = {doc["uid"] for doc in only(documents, "start")}
    produced = np.stack([cam.scene.render(e["data"]["cam_scene_time"]) for e in events])
    np.testing.assert_array_equal(server.client()[uid]["primary"]["cam_image"].read(), produced)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_batch_size_must_be_a_positive_integer(tmp_path, batch_size):
    with pytest.raises(ValueError, match=f"batch_size {batch_size!r} is invalid; allowed"):
        TiledSink(tmp_path / "journal", NOWHERE, batch_size=batch_size)
    assert not (tmp_path / "journal").exists()  # refused before anything is written


@pytest.mark.parametrize("batch_interval", [-0.1, 61, "0.2", True])
def test_batch_interval_must_be_seconds_up_to_a_minute(tmp_path, batch_interval):
    with pytest.raises(ValueError, match=f"batch_interval {batch_interval!r} is invalid; allowed"):
        TiledSink(tmp_path / "journal", NOWHERE, batch_interval=batch_interval)
    assert not (tmp_path / "journal").exists()


@pytest.mark.parametrize("forward_in", ["child", "", None])
def test_forward_in_must_be_process_or_thread(tmp_path, forward_in):
    with pytest.raises(ValueError, match=f"forward_in {forward_in!r} is invalid; allowed"):
        TiledSink(tmp_path / "journal", NOWHERE, forward_in=forward_in)
    assert not (tmp_path / "journal").exists()  # refused before anything is written


def test_a_forwarding_process_needs_a_target_not_a_factory(tmp_path):
    with pytest.raises(ValueError, match="forward_in='thread'"):
        TiledSink(tmp_path / "journal", lambda: None)
    with pytest.raises(ValueError, match="has no URI"):
        TiledSink(tmp_path / "journal", TiledTarget())
    assert not (tmp_path / "journal").exists()


def test_a_tiled_client_gives_the_forwarding_process_its_uri_and_key(RE, server, tmp_path):
    sink = TiledSink(tmp_path / "journal", server.client())
    RE.subscribe(sink)
    (uid,) = RE(count([camera(server)], num=2)).run_start_uids
    assert sink.flush(60)
    sink.close()
    assert server.client()[uid].metadata["stop"]["exit_status"] == "success"


def test_a_killed_forwarding_process_is_replaced_and_its_run_sent_whole(
    RE, documents, server, tmp_path
):
    sink = server.sink(tmp_path / "journal", retry_initial=0.2, retry_max=1.0)
    RE.subscribe(sink)
    cam = camera(server, exposure=0.05)
    killed = {}

    def kill_the_forwarder_once_rows_arrive(uid):
        first = psutil.Process(sink._forwarder.pid)
        deadline = time.monotonic() + 60
        rows = 0
        while rows == 0 and time.monotonic() < deadline:
            with contextlib.suppress(KeyError, IndexError):
                rows = server.client()[uid]["primary"]["cam_image"].shape[0]
            if rows == 0:
                yield from bps.sleep(0.1)
        first.kill()  # mid-run, part of it already in Tiled
        killed.update(pid=first.pid, rows=rows)

    def plan():
        uid = yield from bps.open_run()
        yield from bps.stage(cam)
        for _ in range(5):
            yield from bps.trigger_and_read([cam])
        yield from kill_the_forwarder_once_rows_arrive(uid)
        for _ in range(5):
            yield from bps.trigger_and_read([cam])
        yield from bps.unstage(cam)
        yield from bps.close_run()

    RE(plan())
    assert killed["rows"] > 0, "no row reached Tiled within 60 s: the kill was not mid-run"
    assert sink.flush(120)
    replacement = sink._forwarder.pid
    sink.close()
    assert replacement is not None
    assert replacement != killed["pid"]
    (uid,) = {doc["uid"] for doc in only(documents, "start")}
    client = server.client()
    assert list(client) == [uid]  # once
    run = client[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    events = only(documents, "event")
    produced = np.stack([cam.scene.render(e["data"]["cam_scene_time"]) for e in events])
    np.testing.assert_array_equal(run["primary"]["cam_image"].read(), produced)
    assert sink.health().queue_depth == 0
