"""Timelapses read back from a real Tiled server as lazy arrays (tiled/_load.py)."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import dask.array as da
import httpx
import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter
from tiled.client.container import Container
from tiled.structures.core import Spec

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.plans import timelapse
from bluesky_timelapse.schedules import Schedule, every
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from bluesky_timelapse.tiled import catalog_timelapses, load
from support import Documents, FlakyCamera, only

SHAPE = (24, 32)


@dataclass
class Recorded:
    """A timelapse acquired into Tiled, and what the test needs to check it."""

    timelapse_id: str
    cameras: list[SimCamera]
    schedule: Schedule
    documents: Documents

    @property
    def starts(self) -> list[dict[str, Any]]:
        return only(self.documents, "start")

    def frames(self, camera: SimCamera | None = None) -> dict[int, np.ndarray]:
        """slot index -> the frame the camera produced in that slot."""
        camera = camera or self.cameras[0]
        produced, slot = {}, None
        for name, doc in self.documents:
            if name == "start":
                slot = doc["slot_index"]
            elif name == "event":
                produced[slot] = camera.scene.render(doc["data"][f"{camera.name}_scene_time"])
        return produced


def camera(data_root: Path, directory: str, name: str = "cam", **kwargs: Any) -> SimCamera:
    options = {"writer": "hdf5", "shape": SHAPE, "time_scale": 3600.0, **kwargs}
    return SimCamera(name=name, root=str(data_root), write_path_template=directory, **options)


def record(
    RE: RunEngine,
    documents: Documents,
    client: Container,
    cameras: Sequence[SimCamera],
    timelapse_id: str,
    store: Path,
    slots: int = 5,
    md: dict[str, Any] | None = None,
) -> Recorded:
    schedule = every(0.1, count=slots, start=datetime.now(UTC) + timedelta(seconds=0.2))
    start = len(documents)
    token = RE.subscribe(TiledWriter(client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    try:
        RE(
            timelapse(
                list(cameras),
                schedule.to_dict(),
                store=str(store),
                timelapse_id=timelapse_id,
                md=md,
            )
        )
    finally:
        RE.unsubscribe(token)
    return Recorded(timelapse_id, list(cameras), schedule, documents[start:])


def slot_md(timelapse_id: str, index: int) -> dict[str, Any]:
    """The slot metadata timelapse() gives a run, for runs made by hand."""
    due = datetime(2025, 6, 1, 8, tzinfo=UTC) + timedelta(minutes=10 * index)
    return {
        "timelapse_id": timelapse_id,
        "slot_index": index,
        "scheduled_time": due.isoformat(),
        "scheduled_timestamp": due.timestamp(),
        "lateness": 0.5,
    }


def utc64(when: datetime) -> np.datetime64:
    return np.datetime64(when.astimezone(UTC).replace(tzinfo=None), "ns")


@pytest.fixture(scope="module")
def grey(tiled_client, data_root, tmp_path_factory) -> Recorded:
    """Five uint16 slots written to HDF5, with user metadata."""
    documents: Documents = []
    RE = RunEngine({})
    RE.subscribe(lambda name, doc: documents.append((name, doc)))
    cam = camera(data_root, "grey")
    store = tmp_path_factory.mktemp("store")
    return record(RE, documents, tiled_client, [cam], "grey", store, md={"sample": "basil"})


@pytest.fixture
def requested(tiled_client) -> Iterator[list[str]]:
    """The URLs the client requests while the test runs."""
    urls: list[str] = []

    def note(request: httpx.Request) -> None:
        urls.append(str(request.url))

    hooks = tiled_client.context.http_client.event_hooks["request"]
    hooks.append(note)
    yield urls
    hooks.remove(note)


def array_requests(urls: list[str]) -> list[str]:
    return [url for url in urls if "/array/" in url]


def test_load_gives_every_slot_with_its_frame_and_times(tiled_client, grey):
    frames = load(tiled_client, "grey")

    assert frames.dims == ("slot", "y", "x")
    assert frames.shape == (5, *SHAPE)
    assert frames.dtype == np.uint16
    assert frames.name == "cam_image"
    produced = grey.frames()
    np.testing.assert_array_equal(frames.values, np.stack([produced[i] for i in range(5)]))

    starts = grey.starts
    assert frames["slot"].values.tolist() == [0, 1, 2, 3, 4]
    assert frames["scheduled_time"].dtype == np.dtype("datetime64[ns]")
    expected_times = [utc64(slot.time) for slot in grey.schedule.slots()]
    assert frames["scheduled_time"].values.tolist() == np.array(expected_times).tolist()
    started = [np.datetime64(round(start["time"] * 1e6), "us") for start in starts]
    assert frames["time"].values.tolist() == np.array(started, dtype="datetime64[ns]").tolist()
    assert frames["lateness"].values.tolist() == [start["lateness"] for start in starts]
    assert frames["run_uid"].values.tolist() == [start["uid"] for start in starts]
    assert frames.attrs["timelapse_id"] == "grey"
    assert frames.attrs["field"] == "cam_image"
    assert frames.attrs["sample"] == "basil"
    assert frames.attrs["plan_name"] == "count"
    assert not {"slot_index", "scheduled_time", "lateness", "uid"} & set(frames.attrs)


def test_load_reads_no_pixel_until_asked_and_then_only_that_slot(tiled_client, grey, requested):
    frames = load(tiled_client, "grey")

    assert isinstance(frames.data, da.Array)
    assert frames.data.chunks == ((1,) * 5, (SHAPE[0],), (SHAPE[1],))
    assert array_requests(requested) == []
    assert len(requested) <= 5  # a search page, one frame's stream and structure

    requested.clear()
    pixel = frames[3, 2, 5].values
    assert pixel == grey.frames()[3][2, 5]
    (read,) = array_requests(requested)
    assert grey.starts[3]["uid"] in read

    requested.clear()
    frames.isel(slot=slice(1, 3)).mean().compute()
    read = array_requests(requested)
    uids = [start["uid"] for start in grey.starts]
    assert [uid for uid in uids if any(uid in url for url in read)] == uids[1:3]


def test_rgb_frames_from_tiff_have_a_channel_dimension(
    RE, documents, tiled_client, data_root, tmp_path
):
    cam = camera(data_root, "rgb", writer="tiff", dtype="uint8", colour=True)
    rgb = record(RE, documents, tiled_client, [cam], "rgb", tmp_path / "store", slots=2)

    frames = load(tiled_client, "rgb")

    assert frames.dims == ("slot", "y", "x", "c")
    assert frames.shape == (2, *SHAPE, 3)
    assert frames.dtype == np.uint8
    produced = rgb.frames()
    np.testing.assert_array_equal(frames.values, np.stack([produced[0], produced[1]]))


def test_a_failed_slot_is_left_out_or_nan(RE, documents, tiled_client, data_root, tmp_path):
    flaky = FlakyCamera(
        name="cam",
        root=str(data_root),
        write_path_template="flaky",
        writer="hdf5",
        shape=SHAPE,
        time_scale=3600.0,
        fail_on={2},
    )
    recorded = record(RE, documents, tiled_client, [flaky], "flaky", tmp_path / "store", slots=3)
    stops = only(recorded.documents, "stop")
    assert [stop["exit_status"] for stop in stops] == ["success", "fail", "success"]
    produced = recorded.frames()

    skipped = load(tiled_client, "flaky")
    assert skipped["slot"].values.tolist() == [0, 2]
    assert skipped.dtype == np.uint16
    np.testing.assert_array_equal(skipped.values, np.stack([produced[0], produced[2]]))

    filled = load(tiled_client, "flaky", missing="nan")
    assert filled["slot"].values.tolist() == [0, 1, 2]
    assert filled.dtype == np.float32
    values = filled.values
    assert np.isnan(values[1]).all()
    for index in (0, 2):
        np.testing.assert_array_equal(values[index], produced[index])
    assert filled["run_uid"].values[1] == recorded.starts[1]["uid"]
    assert filled["scheduled_time"].values[1] == utc64(list(recorded.schedule.slots())[1].time)


def test_slots_without_a_run_or_an_event_are_left_out_or_nan(
    RE, documents, tiled_client, data_root
):
    cam = camera(data_root, "holes", writer="npy")
    RE.subscribe(TiledWriter(tiled_client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    RE(count([cam], md=slot_md("holes", 0)))
    RE(bpp.run_wrapper(bps.null(), md=slot_md("holes", 1)))  # a run with no event
    RE(count([cam], md=slot_md("holes", 3)))  # slot 2 has no run at all
    scene_times = [event["data"]["cam_scene_time"] for event in only(documents, "event")]

    skipped = load(tiled_client, "holes")
    assert skipped["slot"].values.tolist() == [0, 3]
    np.testing.assert_array_equal(
        skipped.values, np.stack([cam.scene.render(t) for t in scene_times])
    )

    filled = load(tiled_client, "holes", missing="nan")
    assert filled["slot"].values.tolist() == [0, 1, 2, 3]
    assert np.isnan(filled.values[1:3]).all()
    assert filled["run_uid"].values[2] == ""
    assert np.isnat(filled["scheduled_time"].values[2])
    assert np.isnan(filled["lateness"].values[2])
    assert filled["scheduled_time"].values[1] == utc64(datetime(2025, 6, 1, 8, 10, tzinfo=UTC))


def test_two_timelapses_in_one_catalog_are_kept_apart_and_listed(
    RE, documents, tiled_client, data_root, tmp_path, grey, monkeypatch
):
    cam = camera(data_root, "other", writer="npy")
    other = record(RE, documents, tiled_client, [cam], "other", tmp_path / "store", slots=2)

    grey_frames, other_frames = load(tiled_client, "grey"), load(tiled_client, "other")
    assert grey_frames["run_uid"].values.tolist() == [start["uid"] for start in grey.starts]
    assert other_frames["run_uid"].values.tolist() == [start["uid"] for start in other.starts]
    produced = other.frames()
    np.testing.assert_array_equal(other_frames.values, np.stack([produced[0], produced[1]]))

    listed = {entry["timelapse_id"]: entry for entry in catalog_timelapses(tiled_client)}
    for recorded, runs in ((grey, 5), (other, 2)):
        slots = list(recorded.schedule.slots())
        assert listed[recorded.timelapse_id] == {
            "timelapse_id": recorded.timelapse_id,
            "first_scheduled_time": slots[0].time,
            "last_scheduled_time": slots[-1].time,
            "runs": runs,
            "succeeded": runs,
        }

    def no_distinct(*args, **kwargs):
        request = httpx.Request("GET", "http://tiled/distinct")
        response = httpx.Response(405, request=request)
        raise httpx.HTTPStatusError("405", request=request, response=response)

    monkeypatch.setattr(tiled_client, "distinct", no_distinct)
    assert {entry["timelapse_id"]: entry for entry in catalog_timelapses(tiled_client)} == listed


def test_a_catalog_of_bluesky_runs_is_read_the_same_way(
    RE, documents, tiled_client, data_root, tmp_path
):
    catalog = tiled_client.create_container(
        "runs", specs=[Spec("CatalogOfBlueskyRuns", version="3.0")]
    )
    cam = camera(data_root, "catalog", writer="npy")
    recorded = record(RE, documents, catalog, [cam], "in-catalog", tmp_path / "store", slots=2)

    frames = load(catalog, "in-catalog")
    produced = recorded.frames()
    np.testing.assert_array_equal(frames.values, np.stack([produced[0], produced[1]]))
    (listed,) = catalog_timelapses(catalog)
    assert (listed["timelapse_id"], listed["runs"]) == ("in-catalog", 2)


def test_an_unknown_timelapse_is_a_lookup_error_naming_it(tiled_client, grey):
    with pytest.raises(LookupError, match=r"timelapse_id 'nope'.*known: .*grey"):
        load(tiled_client, "nope")


def test_the_image_field_must_be_named_when_there_are_several(
    RE, documents, tiled_client, data_root, tmp_path
):
    left = camera(data_root, "pair", name="left", writer="npy")
    right = camera(data_root, "pair", name="right", writer="npy", dtype="uint8")
    pair = record(RE, documents, tiled_client, [left, right], "pair", tmp_path / "store", slots=2)

    with pytest.raises(ValueError, match="left_image, right_image"):
        load(tiled_client, "pair")
    with pytest.raises(ValueError, match="'nose_image' is not in stream 'primary'"):
        load(tiled_client, "pair", field="nose_image")
    frames = load(tiled_client, "pair", field="right_image")
    assert frames.dtype == np.uint8
    produced = pair.frames(right)
    np.testing.assert_array_equal(frames.values, np.stack([produced[0], produced[1]]))


def test_two_runs_for_one_slot_are_refused_by_name(RE, documents, tiled_client, data_root):
    cam = camera(data_root, "twice", writer="npy")
    RE.subscribe(TiledWriter(tiled_client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    RE(count([cam], md=slot_md("twice", 0)))
    RE(count([cam], md=slot_md("twice", 0)))
    uids = [start["uid"] for start in only(documents, "start")]

    with pytest.raises(ValueError, match=f"slot 0: runs .*{uids[0]}") as raised:
        load(tiled_client, "twice")
    assert uids[1] in str(raised.value)


def test_an_unknown_missing_policy_is_refused(tiled_client, grey):
    with pytest.raises(ValueError, match="allowed: skip, nan"):
        load(tiled_client, "grey", missing="zero")  # type: ignore[arg-type]
