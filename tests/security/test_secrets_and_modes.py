"""A real timelapse through ``configure`` and the CLI: the key stays in its file, files stay private.

One module-scoped timelapse runs under umask 000, so a mode that comes from the
umask instead of the code shows as world-writable.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bluesky_timelapse.callbacks._journal import RunJournal, recover
from bluesky_timelapse.callbacks._tiled_sink import HEALTH_FILE
from bluesky_timelapse.data_dir import DataDirectory
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.plans import timelapse
from bluesky_timelapse.session import configure

COMMAND = Path(sysconfig.get_path("scripts")) / "bluesky-timelapse"
TIMELAPSE_ID = "security-check"
SLOTS = 3


@dataclass
class Finished:
    """What a finished timelapse left behind."""

    data_dir: Path
    key: str
    documents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    records: list[logging.LogRecord] = field(default_factory=list)
    cli: list[subprocess.CompletedProcess[str]] = field(default_factory=list)


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("TILED_API_KEY", "BLUESKY_TIMELAPSE_TILED_URI")
    }
    return subprocess.run(
        [str(COMMAND), *args], capture_output=True, text=True, timeout=240, env=environment
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Finished]:
    """A timelapse of SLOTS slots run through configure() under umask 000, then the CLI."""
    data_dir = tmp_path_factory.mktemp("security-session") / "data"
    records: list[logging.LogRecord] = []
    handler = _Keep(records)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    umask = os.umask(0)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("TILED_API_KEY", raising=False)
            patch.delenv("BLUESKY_TIMELAPSE_TILED_URI", raising=False)
            session = configure(
                data_dir=data_dir, progress=False, log_level="DEBUG", suspenders=False
            )
            try:
                result = Finished(data_dir, (data_dir / "tiled" / "api_key").read_text().strip())
                session.RE.subscribe(lambda name, doc: result.documents.append((name, doc)))
                camera = SimCamera(
                    name="camera",
                    root=str(data_dir / "frames"),
                    write_path_template="%Y/%m/%d",
                    writer="tiff",
                    shape=(8, 8),
                    dtype="uint8",
                )
                session.RE(
                    timelapse(
                        [camera],
                        {"kind": "every", "interval": "1s", "count": SLOTS},
                        timelapse_id=TIMELAPSE_ID,
                        store=str(data_dir / "timelapses"),
                    )
                )
                assert session.sink.flush(60)
                for arguments in (
                    ("status", "--data-dir", str(data_dir)),
                    ("status", TIMELAPSE_ID, "--data-dir", str(data_dir)),
                    ("list", "--data-dir", str(data_dir)),
                ):
                    result.cli.append(_cli(*arguments))
            finally:
                session.close()
        result.records = records
        yield result
    finally:
        os.umask(umask)
        root.removeHandler(handler)
        root.setLevel(level)


def test_the_timelapse_ran_and_the_cli_answered(finished: Finished) -> None:
    starts = [doc for name, doc in finished.documents if name == "start"]
    assert [doc["slot_index"] for doc in starts] == list(range(SLOTS))
    for completed in finished.cli:
        assert completed.returncode == 0, completed.stderr
        assert TIMELAPSE_ID in completed.stdout


def test_the_key_is_in_the_key_file_only(finished: Finished) -> None:
    key = finished.key.encode()
    assert len(key) == 64
    holders = [
        str(path.relative_to(finished.data_dir))
        for path in finished.data_dir.rglob("*")
        if path.is_file() and key in path.read_bytes()
    ]
    assert holders == ["tiled/api_key"]


def test_the_server_log_was_written_and_holds_no_key(finished: Finished) -> None:
    log = (finished.data_dir / "tiled" / "server.log").read_text()
    assert "GET /api/v1" in log  # the access log is there, so it was searched
    assert finished.key not in log


def test_no_document_carries_the_key(finished: Finished) -> None:
    assert finished.documents
    assert finished.key not in repr(finished.documents)


def test_no_log_record_carries_the_key(finished: Finished) -> None:
    assert finished.records
    for record in finished.records:
        assert finished.key not in record.getMessage(), record.name
        assert finished.key not in repr(record.args), record.name
    session_log = DataDirectory(finished.data_dir).log_file.read_text()
    assert "session configured" in session_log
    assert finished.key not in session_log


def test_no_cli_output_carries_the_key(finished: Finished) -> None:
    for completed in finished.cli:
        assert finished.key not in completed.stdout + completed.stderr


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_metadata_journal_and_server_files_are_private(finished: Finished) -> None:
    data_dir = finished.data_dir
    directories = [
        data_dir / "timelapses",
        data_dir / "timelapses" / "snapshots",
        data_dir / "journal",
        data_dir / "tiled",
        data_dir / "tiled" / "data",
    ]
    for directory in directories:
        assert _mode(directory) == 0o700, directory
    files = [
        data_dir / "timelapses" / "timelapses.db",
        *sorted((data_dir / "timelapses").glob("timelapses.db-*")),
        *sorted((data_dir / "timelapses" / "snapshots").iterdir()),
        data_dir / "md.json",
        data_dir / "journal" / HEALTH_FILE,
        data_dir / "tiled" / "api_key",
        data_dir / "tiled" / "config.yml",
        data_dir / "tiled" / "server.log",
        data_dir / "tiled" / "catalog.db",
    ]
    for path in files:
        assert _mode(path) == 0o600, path


def test_nothing_the_package_keeps_is_open_to_others(finished: Finished) -> None:
    """Every file and directory below the store, journal, metadata and server: owner only.

    Frames are the user's data, written where the user says; the data directory
    itself, ``frames`` and ``logs`` are made by ``session.py`` (see the next test).
    """
    data_dir = finished.data_dir
    kept = [data_dir / "timelapses", data_dir / "journal", data_dir / "tiled"]
    kept += list(data_dir.glob("md.json*"))
    open_to_others = [
        f"{path.relative_to(data_dir)} {_mode(path):o}"
        for top in kept
        for path in [top, *top.rglob("*")]
        if _mode(path) & 0o077
    ]
    assert open_to_others == []


def test_the_data_directory_and_the_session_log_are_private(finished: Finished) -> None:
    data_dir = finished.data_dir
    for directory in (data_dir, data_dir / "frames", DataDirectory(data_dir).logs):
        assert _mode(directory) == 0o700, directory
    assert _mode(DataDirectory(data_dir).log_file) == 0o600


def test_journal_files_are_private_whatever_the_umask(tmp_path: Path, umask_zero: None) -> None:
    journal = RunJournal(tmp_path / "run.jsonl")
    journal.append("start", {"uid": "run"})
    journal.close()
    assert _mode(tmp_path / "run.jsonl") == 0o600
    with (tmp_path / "run.jsonl").open("ab") as file:
        file.write(b'{"name": "event", "doc": {"cut')  # a crash mid-line
    assert len(recover(tmp_path / "run.jsonl")) == 1
    (tail,) = tmp_path.glob("run.jsonl.corrupt-tail-*")
    assert _mode(tail) == 0o600


def test_an_existing_journal_reopened_becomes_private(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"")
    path.chmod(0o644)
    RunJournal(path).close()
    assert _mode(path) == 0o600
