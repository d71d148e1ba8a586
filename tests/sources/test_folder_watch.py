"""The watch that reports complete files (sources/_folder_watch.py)."""

import threading
from pathlib import Path

import pytest

from bluesky_timelapse.sources import FilePattern, FolderWatch
from folder_files import write_slowly


@pytest.mark.parametrize("use_polling", [False, True])
def test_each_complete_file_is_reported_once_never_half_written(tmp_path, use_polling):
    reported: list[tuple[Path, int]] = []
    arrived = threading.Event()

    def on_complete(path: Path) -> None:
        reported.append((path, path.stat().st_size))
        arrived.set()

    (tmp_path / "old_1.tiff").write_bytes(b"before the watch")
    pattern = FilePattern(str(tmp_path / "{name}_{n:d}.tiff"))
    watch = FolderWatch(
        pattern, on_complete, use_polling=use_polling, poll_interval=0.05, settle_time=0.5
    )
    watch.start()
    try:
        for n in range(3):
            arrived.clear()
            write_slowly(tmp_path / f"new_{n}.tiff", bytes(4000), chunks=8, pause=0.02)
            assert arrived.wait(60)
    finally:
        watch.stop()
    assert reported == [(tmp_path / f"new_{n}.tiff", 4000) for n in range(3)]


def test_an_empty_file_is_not_complete(tmp_path):
    reported: list[Path] = []
    pattern = FilePattern(str(tmp_path / "{n:d}.tiff"))
    watch = FolderWatch(pattern, reported.append, settle_time=0.1)
    watch.start()
    try:
        (tmp_path / "1.tiff").touch()
        done = threading.Event()
        watch.on_complete = lambda path: (reported.append(path), done.set())
        write_slowly(tmp_path / "2.tiff", b"frame", chunks=1, pause=0)
        assert done.wait(60)
    finally:
        watch.stop()
    assert reported == [tmp_path / "2.tiff"]


def test_a_missing_root_is_named(tmp_path):
    watch = FolderWatch(FilePattern(str(tmp_path / "gone/{n}.tif")), print)
    with pytest.raises(FileNotFoundError, match=r"gone' of template .* does not exist"):
        watch.start()
    assert not watch.running
