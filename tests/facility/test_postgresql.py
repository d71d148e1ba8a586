"""The facility deployment: ``serve --catalog postgresql://...`` and three rigs into it.

A throwaway PostgreSQL cluster (initdb, pg_ctl) on a loopback port; the Tiled
server run by the CLI with its catalog there; three rig processes (each its own
SimCamera, store, journal and TiledSink) sending timelapses into it at once.
"""

import os
import signal
import subprocess
import sys
import sysconfig
from collections import Counter
from pathlib import Path

import pytest

from bluesky_timelapse.persistence import TimelapseStore
from bluesky_timelapse.tiled import catalog_timelapses, read_slot_index
from facility.postgres import Cluster, unavailable

SCRIPTS = Path(sysconfig.get_path("scripts"))
RIG = Path(__file__).parents[1] / "soak" / "rig.py"
RIGS = ("rig-a", "rig-b", "rig-c")
SLOTS = 120
INTERVAL = 0.5

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))


@pytest.fixture
def postgres():
    cluster = Cluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def served(tmp_path, postgres):
    """``bluesky-timelapse serve --catalog <postgres>``: (uri, key, process); stopped after."""
    data_dir = tmp_path / "facility"
    process = subprocess.Popen(
        [
            SCRIPTS / "bluesky-timelapse", "serve",
            "--data-dir", str(data_dir),
            "--catalog", postgres.uri,
            "--readable", str(tmp_path / "rigs"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "press Ctrl-C to stop" in line:
            break
    else:
        pytest.fail(f"serve exited: {''.join(lines)}")
    uri = lines[0].split("Tiled at ")[1].strip()
    key = (data_dir / "tiled" / "api_key").read_text().strip()
    yield uri, key, "".join(lines)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


@pytest.mark.timeout(600)
def test_three_rigs_share_a_tiled_with_a_postgresql_catalog(tmp_path, postgres, served):
    uri, key, banner = served
    assert postgres.uri in banner  # the catalog it serves (no password to hide here)
    rigs = {name: _start_rig(tmp_path / "rigs" / name, name, uri, key) for name in RIGS}
    try:
        for name, rig in rigs.items():
            out, _ = rig.communicate(timeout=SLOTS * INTERVAL + 240)
            assert rig.returncode == 0, f"{name}: {out[-2000:]}"
            assert out.rstrip().endswith("DONE")
    finally:
        for rig in rigs.values():  # never leave a rig retrying after a failure
            if rig.poll() is None:
                rig.kill()
                rig.wait()

    from tiled.client import from_uri

    client = from_uri(uri, api_key=key, trust_env=False)
    runs = [
        (run.metadata["start"], run.metadata.get("stop"))
        for run in client.values()
        if "start" in run.metadata  # not the sinks' index, timelapses/
    ]
    per_slot = Counter((start["timelapse_id"], start["slot_index"]) for start, _ in runs)
    assert max(per_slot.values()) == 1  # every run arrived once
    assert all(stop is not None and stop["exit_status"] == "success" for _, stop in runs)
    succeeded_slots: dict[str, set[int]] = {}
    for name in RIGS:
        state = TimelapseStore(tmp_path / "rigs" / name / "timelapses").load(name)
        succeeded = {record.index for record in state.slots if record.status == "succeeded"}
        assert len(succeeded) == SLOTS, Counter(record.status for record in state.slots)
        assert {slot for (tid, slot) in per_slot if tid == name} == succeeded
        succeeded_slots[name] = succeeded

    listed = {entry["timelapse_id"]: entry for entry in catalog_timelapses(client)}
    assert set(listed) == set(RIGS)
    assert all(listed[name]["runs"] == listed[name]["succeeded"] == SLOTS for name in RIGS)
    for name in RIGS:  # three sinks made the index's container at once: one row per slot
        index = read_slot_index(client, name)
        assert index is not None
        assert sorted(row["slot_index"] for row in index.rows) == sorted(succeeded_slots[name])
    # A frame of each rig reads back through the shared server.
    for name in RIGS:
        first = next(
            run
            for run in client.values()
            if run.metadata.get("start", {}).get("timelapse_id") == name
        )
        assert first["primary"]["cam_image"].read().shape == (1, 16, 16)


def _start_rig(data: Path, name: str, uri: str, key: str) -> subprocess.Popen[str]:
    arguments = [
        sys.executable, str(RIG),
        "--data", str(data),
        "--tiled", uri,
        "--id", name,
        "--slots", str(SLOTS),
        "--interval", str(INTERVAL),
        "--grace", "5",
    ]  # fmt: skip
    return subprocess.Popen(
        arguments, stdout=subprocess.PIPE, text=True, env={**os.environ, "TILED_API_KEY": key}
    )
