"""The index of a timelapse in Tiled: written by TiledSink, read by load() (tiled/_index.py)."""

import contextlib
import importlib.util
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import tiled.client.utils
import xarray as xr
from bluesky import RunEngine
from bluesky_tiled_plugins import TiledWriter
from tiled.client import from_uri
from tiled.client.container import Container

from bluesky_timelapse.callbacks import TiledSink
from bluesky_timelapse.callbacks._journal import RunJournal
from bluesky_timelapse.plans import timelapse
from bluesky_timelapse.schedules import every
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE, TIMELAPSE_SPEC
from bluesky_timelapse.tiled import (
    LocalTiled,
    SlotIndexWriter,
    catalog_timelapses,
    load,
    read_slot_index,
)
from support import Documents, FlakyCamera, only, validate

SHAPE = (24, 32)
SLOTS = 5
BENCHMARK = Path(__file__).parents[2] / "benchmarks" / "scale_tiled.py"


def node(parent: Container, *path: str):
    return Container.__getitem__(parent, path)


@contextlib.contextmanager
def requests_of(client: Container) -> Iterator[list[str]]:
    """The URLs ``client`` requests inside the block."""
    urls: list[str] = []
    hooks = client.context.http_client.event_hooks["request"]

    def note(request: httpx.Request) -> None:
        urls.append(str(request.url))

    hooks.append(note)
    try:
        yield urls
    finally:
        hooks.remove(note)


def acquire(data_root: Path, store: Path, timelapse_id: str) -> Documents:
    """A timelapse of SLOTS slots whose slot 2 fails, its documents recorded, no writer."""
    documents: Documents = []
    RE = RunEngine({})
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    camera = FlakyCamera(
        name="cam",
        root=str(data_root),
        write_path_template=timelapse_id,
        writer="hdf5",
        shape=SHAPE,
        time_scale=3600.0,
        fail_on={3},
    )
    schedule = every(0.1, count=SLOTS, start=datetime.now(UTC) + timedelta(seconds=0.2))
    RE(timelapse([camera], schedule.to_dict(), store=str(store), timelapse_id=timelapse_id))
    return documents


def through_sink(documents: Documents, container: Container, journal: Path, **options) -> None:
    sink = TiledSink(journal, lambda: container, forward_in="thread", **options)
    try:
        for name, doc in documents:
            sink(name, doc)
        assert sink.flush(120)
    finally:
        sink.close()


@pytest.fixture(scope="module")
def catalogs(tiled_client, data_root, tmp_path_factory):
    """One timelapse written twice: by TiledWriter alone (no index) and through TiledSink."""
    documents = acquire(data_root, tmp_path_factory.mktemp("store"), "indexed")
    plain = tiled_client.create_container(f"plain-{uuid.uuid4().hex[:8]}")
    writer = TiledWriter(plain, spec_to_mimetype=SPEC_TO_MIMETYPE)
    for name, doc in documents:
        writer(name, doc)
    indexed = tiled_client.create_container(f"indexed-{uuid.uuid4().hex[:8]}")
    through_sink(documents, indexed, tmp_path_factory.mktemp("journal"))
    return documents, plain, indexed


def test_the_documents_pass_schema_validation(catalogs):
    documents, _, _ = catalogs
    validate(documents)
    assert [stop["exit_status"] for stop in only(documents, "stop")] == [
        "success",
        "success",
        "fail",
        "success",
        "success",
    ]


def test_the_sink_writes_one_row_per_slot_and_one_array_of_frames(catalogs):
    documents, _, indexed = catalogs
    index = node(indexed, "timelapses", "indexed")
    assert [spec.name for spec in index.specs] == [TIMELAPSE_SPEC]
    assert index.metadata["timelapse_id"] == "indexed"
    assert "slot_index" not in index.metadata["start"]
    rows = node(index, "slots").read()
    starts = only(documents, "start")
    assert rows["slot_index"].tolist() == list(range(SLOTS))
    assert rows["run_uid"].tolist() == [start["uid"] for start in starts]
    assert rows["exit_status"].tolist() == ["success", "success", "fail", "success", "success"]
    assert rows["lateness"].tolist() == [start["lateness"] for start in starts]
    frames = node(index, "primary", "cam_image")
    assert frames.shape == (SLOTS - 1, *SHAPE)  # the failed slot has no frame


def test_load_reads_the_same_array_with_the_index_and_without(catalogs):
    _, plain, indexed = catalogs
    for missing in ("skip", "nan"):
        from_runs = load(plain, "indexed", missing=missing)
        from_index = load(indexed, "indexed", missing=missing)
        xr.testing.assert_identical(from_index.compute(), from_runs.compute())
    assert load(indexed, "indexed")["slot"].values.tolist() == [0, 1, 3, 4]


def test_load_reads_an_indexed_timelapse_in_a_few_requests(catalogs):
    _, _, indexed = catalogs
    with requests_of(indexed) as urls:
        frames = load(indexed, "indexed")
        opened = len(urls)
        frames.values  # noqa: B018
        single = len(urls)
        frames[2, 3, 4].values  # noqa: B018
    assert opened <= 4  # the index node, its table, the frames' array
    assert not [url for url in urls[:opened] if "/array/" in url]
    (every_frame,) = urls[opened:single]  # four frames in one request
    assert "/array/full/" in every_frame and "timelapses/indexed/primary/cam_image" in every_frame
    (one_pixel,) = urls[single:]
    assert "/array/full/" in one_pixel and "slice=2" in one_pixel


def test_catalog_timelapses_reads_the_same_from_the_index(catalogs):
    _, plain, indexed = catalogs
    with requests_of(indexed) as urls:
        listed = catalog_timelapses(indexed)
    assert listed == catalog_timelapses(plain)
    assert listed[0]["runs"] == SLOTS and listed[0]["succeeded"] == SLOTS - 1
    assert not [url for url in urls if "scheduled_timestamp" in url]  # no sorted search


def test_a_run_replayed_after_a_crash_leaves_one_row_per_slot(catalogs, tmp_path):
    """A forwarder that died after the index row but before it deleted the journal."""
    documents, _, indexed = catalogs
    before = load(indexed, "indexed").compute()
    journal = tmp_path / "journal"
    journal.mkdir(mode=0o700)
    replayed = [doc["uid"] for doc in only(documents, "start")[1:3]]
    files = {uid: RunJournal(journal / f"{uid}.jsonl") for uid in replayed}
    run_of: dict[str, str] = {}
    for name, doc in documents:
        uid = doc.get("run_start") or run_of.get(doc.get("descriptor") or doc.get("resource"))
        uid = doc["uid"] if name == "start" else uid
        if name in ("descriptor", "resource"):
            run_of[doc["uid"]] = uid
        if uid in files:
            files[uid].append(name, doc)
    for file in files.values():
        file.close()

    through_sink([], indexed, journal)  # replays both runs whole, stop included

    rows = node(indexed, "timelapses", "indexed", "slots").read()
    assert rows["slot_index"].tolist() == list(range(SLOTS))
    xr.testing.assert_identical(load(indexed, "indexed").compute(), before)
    assert node(indexed, replayed[0]).metadata["stop"]["exit_status"] == "success"


def test_an_outage_mid_timelapse_leaves_one_row_per_slot(
    catalogs, data_root, tmp_path, monkeypatch
):
    documents, plain, _ = catalogs
    monkeypatch.setattr(tiled.client.utils, "TILED_RETRY_ATTEMPTS", 2)
    monkeypatch.setattr(tiled.client.utils, "TILED_RETRY_TIMEOUT", 2.0)
    server = LocalTiled(tmp_path / "tiled", readable_storage=[data_root])
    server.start()
    try:
        uri, key = server.uri, server.api_key
        sink = TiledSink(
            tmp_path / "journal",
            lambda: from_uri(uri, api_key=key, trust_env=False),
            forward_in="thread",
            retry_initial=0.2,
            retry_max=1.0,
        )
        try:
            third = [name for name, _ in documents].index("start", 1)
            third = [name for name, _ in documents].index("start", third + 1)
            for name, doc in documents[:third]:
                sink(name, doc)
            assert sink.flush(60)
            server.stop()
            for name, doc in documents[third:]:
                sink(name, doc)
            deadline = time.monotonic() + 60
            while sink.health().last_error is None:  # forwarding failed: Tiled is away
                assert time.monotonic() < deadline
                time.sleep(0.1)
            server.start()
            assert server.uri == uri
            assert sink.flush(120)
        finally:
            sink.close()
        client = server.client()
        rows = node(client, "timelapses", "indexed", "slots").read()
        assert rows["slot_index"].tolist() == list(range(SLOTS))
        xr.testing.assert_identical(
            load(client, "indexed").compute(), load(plain, "indexed").compute()
        )
    finally:
        server.stop()


def test_the_sink_can_index_without_copying_frames(catalogs, tmp_path, tiled_client):
    documents, plain, _ = catalogs
    rows_only = tiled_client.create_container(f"rows-only-{uuid.uuid4().hex[:8]}")
    through_sink(documents, rows_only, tmp_path / "journal", copy_frames=False)
    with pytest.raises(KeyError):
        node(rows_only, "timelapses", "indexed", "primary")
    xr.testing.assert_identical(
        load(rows_only, "indexed").compute(), load(plain, "indexed").compute()
    )


def test_an_index_without_a_row_yet_loads_through_the_query(catalogs, tiled_client):
    """The first slot's run has started (its index node made), none has stopped yet."""
    documents, plain, _ = catalogs
    fresh = tiled_client.create_container(f"fresh-{uuid.uuid4().hex[:8]}")
    writer = TiledWriter(fresh, spec_to_mimetype=SPEC_TO_MIMETYPE)
    for name, doc in documents:
        writer(name, doc)
    SlotIndexWriter().prepare(fresh, only(documents, "start")[0])
    index = read_slot_index(fresh, "indexed")
    assert index is not None and index.rows == []
    xr.testing.assert_identical(load(fresh, "indexed").compute(), load(plain, "indexed").compute())


def test_copy_frames_must_be_a_bool(tmp_path):
    with pytest.raises(ValueError, match="copy_frames 'yes' is invalid; allowed: True or False"):
        TiledSink(tmp_path / "journal", lambda: None, forward_in="thread", copy_frames="yes")


def test_the_benchmark_composes_valid_documents(tmp_path):
    spec = importlib.util.spec_from_file_location("scale_tiled", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_tiled"] = module
    try:
        spec.loader.exec_module(module)
        documents = list(module.slot_documents("bench", 3, tmp_path, shape=(8, 8)))
    finally:
        del sys.modules["scale_tiled"]
    validate(documents)
    assert [name for name, _ in documents] == [
        "start",
        "descriptor",
        "resource",
        "datum",
        "event",
        "stop",
    ]
