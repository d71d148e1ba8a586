"""Several local processes write into one embedded Tiled server at once."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter
from tiled.queries import Key

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from bluesky_timelapse.tiled import LocalTiled

WRITER = Path(__file__).with_name("writer_process.py")
RUNS = 8
EVENTS = 5
SUBSCRIBERS = {"rig_a": "sink", "rig_b": "writer", "rig_c": "writer"}
"""Each rig's subscription: a TiledSink, or a TiledWriter sending each event at once."""


class DuckDBTiled(LocalTiled):
    """The embedded server as it was before SQLite tables: DuckDB tables only."""

    def _tables_uri(self) -> str:
        return f"duckdb:///{self.directory / 'storage.duckdb'}"


def start_writer(server: LocalTiled, tmp_path: Path, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(WRITER),
            f"--uri={server.uri}",
            f"--key-file={server.key_file}",
            f"--frames={server.readable_storage[0]}",
            f"--journal={tmp_path / 'journal' / name}",
            f"--name={name}",
            f"--subscriber={SUBSCRIBERS[name]}",
            f"--runs={RUNS}",
            f"--events={EVENTS}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def expect_line(process: subprocess.Popen[str], word: str) -> list[str]:
    """The lines ``process`` prints up to the one starting with ``word``."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith(word):
            return lines
    pytest.fail(f"writer exited ({process.wait()}) before {word}:\n" + "\n".join(lines))


def assert_run_complete(run, name: str) -> None:
    assert run.metadata["start"]["writer"] == name
    stop = run.metadata["stop"]
    assert stop["exit_status"] == "success"
    assert stop["num_events"] == {"primary": EVENTS}
    rows = run["primary"].base["internal"].read()
    assert list(rows["seq_num"]) == list(range(1, EVENTS + 1))
    assert run["primary"][f"{name}_image"].shape == (EVENTS, 8, 8)


@pytest.mark.timeout(300)
def test_three_writer_processes_at_once_each_run_arrives_once_and_whole(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    writers: list[subprocess.Popen[str]] = []
    with LocalTiled(tmp_path / "tiled", readable_storage=[frames]) as server:
        try:
            writers = [start_writer(server, tmp_path, name) for name in SUBSCRIBERS]
            for writer in writers:
                expect_line(writer, "READY")
            for writer in writers:  # all acquire at once
                assert writer.stdin is not None
                writer.stdin.write("go\n")
                writer.stdin.flush()
            uids = {}
            for name, writer in zip(SUBSCRIBERS, writers, strict=True):
                lines = expect_line(writer, "DONE")
                uids[name] = [line.split()[1] for line in lines if line.startswith("RUN ")]
                assert writer.wait(timeout=60) == 0, "\n".join(lines)

            client = server.client()
            assert server.running
            assert len(client) == RUNS * len(SUBSCRIBERS)
            for name, runs in uids.items():
                assert len(runs) == RUNS
                found = client.search(Key("writer") == name)
                assert sorted(found) == sorted(runs)  # each run exactly once
                for uid in runs:
                    assert_run_complete(client[uid], name)
        finally:
            for writer in writers:
                if writer.poll() is None:
                    writer.kill()
                writer.wait()
    failed = [line for line in server.log_file.read_text().splitlines() if '" 500 ' in line]
    assert not failed, "the server failed requests:\n" + "\n".join(failed[:5])
    assert (tmp_path / "tiled" / "storage.sqlite").stat().st_size > 0
    assert not (tmp_path / "tiled" / "storage.duckdb").exists()


def test_runs_in_the_duckdb_tables_of_an_older_directory_stay_readable(RE, tmp_path):
    frames = tmp_path / "frames"
    camera = SimCamera(
        name="cam", root=str(frames), write_path_template="old", writer="hdf5", shape=(8, 8)
    )
    with DuckDBTiled(tmp_path / "tiled", readable_storage=[frames]) as old:
        token = RE.subscribe(TiledWriter(old.client(), spec_to_mimetype=SPEC_TO_MIMETYPE))
        (before,) = RE(count([camera], num=3)).run_start_uids
        RE.unsubscribe(token)
    assert (tmp_path / "tiled" / "storage.duckdb").stat().st_size > 0

    with LocalTiled(tmp_path / "tiled", readable_storage=[frames]) as server:
        client = server.client()
        RE.subscribe(TiledWriter(client, spec_to_mimetype=SPEC_TO_MIMETYPE))
        (after,) = RE(count([camera], num=2)).run_start_uids
        for uid, events in ((before, 3), (after, 2)):
            rows = client[uid]["primary"].base["internal"].read()
            assert list(rows["seq_num"]) == list(range(1, events + 1))
            assert client[uid].metadata["stop"]["num_events"] == {"primary": events}
            images = client[uid]["primary"]["cam_image"].read()
            assert images.shape == (events, 8, 8) and np.any(images)
        tables = client[after]["primary"].base["internal"].data_sources()[0]
        assert tables.assets[0].data_uri.startswith("sqlite:")
