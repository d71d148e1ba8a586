"""Documents sent through TiledSink come back out of the embedded Tiled unchanged."""

from bluesky.plans import count

from bluesky_timelapse.callbacks import TiledSink
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.plans import install_commands, timelapse
from bluesky_timelapse.schedules import every
from bluesky_timelapse.tiled import load
from support import only


def test_run_documents_round_trip_through_the_sink(
    RE, documents, local_server, data_dir, tmp_path
):
    sink = TiledSink(tmp_path / "journal", local_server.target)
    RE.subscribe(sink)
    camera = SimCamera(
        name="cam",
        root=str(data_dir / "frames"),
        write_path_template="docs",
        writer="hdf5",
        shape=(8, 12),
    )
    (uid,) = RE(count([camera], num=3)).run_start_uids
    assert sink.flush(60)
    sink.close()
    served = list(local_server.client()[uid].documents())
    names = [name for name, _ in served]
    assert names[0] == "start" and names[-1] == "stop"
    assert served[0][1]["uid"] == uid
    assert served[-1][1]["exit_status"] == "success"
    assert names.count("descriptor") == 1
    # Tiled rebuilds events from its tables (new uids): the data must be the same.
    sent = [doc["data"]["cam_scene_time"] for doc in only(documents, "event")]
    events = [doc for name, doc in served if name in ("event", "event_page")]
    back = []
    for doc in events:
        value = doc["data"]["cam_scene_time"]
        back.extend(value if isinstance(value, list) else [value])
    assert back == sent


def test_a_timelapse_through_the_sink_loads_whole(RE, local_server, data_dir, tmp_path):
    install_commands(RE)
    sink = TiledSink(tmp_path / "journal", local_server.target)
    RE.subscribe(sink)
    camera = SimCamera(
        name="cam",
        root=str(data_dir / "frames"),
        write_path_template="tl",
        writer="hdf5",
        shape=(8, 12),
    )
    timelapse_id = RE(
        timelapse([camera], every(0.2, count=4).to_dict(), store=str(tmp_path / "store"))
    ).plan_result
    assert sink.flush(60)
    sink.close()
    frames = load(local_server.client(), timelapse_id)
    assert frames.shape == (4, 8, 12)
    assert list(frames["slot"].values) == [0, 1, 2, 3]
