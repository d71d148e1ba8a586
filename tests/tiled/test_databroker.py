"""Databroker's v1 API on the embedded catalog: timelapses found by id, scalar tables."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from bluesky import RunEngine
from tiled.client.container import DEFAULT_STRUCTURE_CLIENT_DISPATCH

from bluesky_timelapse.callbacks import TiledSink
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.plans import install_commands, timelapse
from bluesky_timelapse.schedules import every
from bluesky_timelapse.tiled import LocalTiled, load
from support import Documents, only

pytest.importorskip(
    "databroker.v1", reason="databroker is missing (pip install -e '.[databroker]')"
)

SLOTS = 3


@pytest.fixture(scope="module", autouse=True)
def run_clients_restored(local_server: LocalTiled) -> Iterator[None]:
    """Put tiled's client for runs back after these tests.

    A v1 search (bluesky-tiled-plugins 2.0.12's ``CatalogOfBlueskyRuns.v2``) replaces it in
    tiled's registry shared by the whole process: every later client shows runs the v2 way.
    """
    local_server.client()  # the first client fills the registry from the entry points
    saved = {
        name: clients["BlueskyRun"] for name, clients in DEFAULT_STRUCTURE_CLIENT_DISPATCH.items()
    }
    yield
    for name, run_client in saved.items():
        DEFAULT_STRUCTURE_CLIENT_DISPATCH[name].set(
            "BlueskyRun", lambda run_client=run_client: run_client
        )


@dataclass
class Recorded:
    timelapse_id: str
    camera: SimCamera
    documents: Documents


@pytest.fixture(scope="module")
def recorded(
    local_server: LocalTiled, data_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Recorded:
    """A three-slot timelapse sent to ``local_server`` through the sink."""
    documents: Documents = []
    RE = RunEngine({}, call_returns_result=True)
    install_commands(RE)
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    work = tmp_path_factory.mktemp("databroker")
    sink = TiledSink(work / "journal", local_server.target)
    RE.subscribe(sink)
    camera = SimCamera(
        name="cam",
        root=str(data_root),
        write_path_template="databroker",
        writer="hdf5",
        shape=(8, 12),
    )
    schedule = every(0.2, count=SLOTS).to_dict()
    timelapse_id = RE(timelapse([camera], schedule, store=str(work / "store"))).plan_result
    assert sink.flush(60)
    sink.close()
    return Recorded(timelapse_id, camera, documents)


def test_a_search_by_timelapse_id_finds_every_slot(local_server, recorded):
    db = local_server.client().v1
    headers = list(db(timelapse_id=recorded.timelapse_id))
    assert sorted(header.start["slot_index"] for header in headers) == list(range(SLOTS))
    assert {header.start["uid"] for header in headers} == {
        doc["uid"] for doc in only(recorded.documents, "start")
    }
    assert all(header.stop["exit_status"] == "success" for header in headers)
    assert list(db(timelapse_id="no-such-timelapse")) == []


def test_the_last_run_is_the_last_slot(local_server, recorded):
    last = local_server.client().v1[-1]
    assert last.start["timelapse_id"] == recorded.timelapse_id
    assert last.start["slot_index"] == SLOTS - 1
    assert last.start["uid"] == only(recorded.documents, "start")[-1]["uid"]


def test_a_slot_gives_a_table_of_its_scalars(local_server, recorded):
    (header,) = local_server.client().v1(timelapse_id=recorded.timelapse_id, slot_index=0)
    table = header.table()
    assert list(table.columns) == ["cam_scene_time", "time"]  # no image without fill=True
    (event,) = [
        doc
        for doc in only(recorded.documents, "event")
        if doc["descriptor"] == only(recorded.documents, "descriptor")[0]["uid"]
    ]
    assert table["cam_scene_time"].tolist() == [event["data"]["cam_scene_time"]]

    filled = header.table(fill=True)  # the frames, read through Tiled into memory
    np.testing.assert_array_equal(
        filled["cam_image"].iloc[0],
        recorded.camera.scene.render(event["data"]["cam_scene_time"]),
    )


def test_load_reads_the_timelapse_after_a_v1_search_in_the_same_process(local_server, recorded):
    list(local_server.client().v1(timelapse_id=recorded.timelapse_id))
    frames = load(local_server.client(), recorded.timelapse_id)
    assert list(frames["slot"].values) == list(range(SLOTS))
    scene_times = [doc["data"]["cam_scene_time"] for doc in only(recorded.documents, "event")]
    np.testing.assert_array_equal(
        frames.values, np.stack([recorded.camera.scene.render(t) for t in scene_times])
    )
