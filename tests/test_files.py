"""Crash-safe writes, directory fsync and setting damaged files aside."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bluesky_timelapse import _files
from bluesky_timelapse._files import (
    atomic_write,
    fsync_directory,
    make_private_directory,
    move_aside,
    written_then_renamed,
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


class Crash(Exception):
    """A simulated crash."""


def crash(*args: object, **kwargs: object) -> None:
    raise Crash("simulated crash")


def test_creates_file_with_content_and_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    atomic_write(target, b'{"a": 1}')
    assert target.read_bytes() == b'{"a": 1}'
    assert mode_of(target) == 0o600
    assert names(tmp_path) == ["state.json"]


def test_mode_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        atomic_write(tmp_path / "open", b"x")
        atomic_write(tmp_path / "shared", b"x", mode=0o640)
    finally:
        os.umask(previous)
    assert mode_of(tmp_path / "open") == 0o600
    assert mode_of(tmp_path / "shared") == 0o640


def test_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    target.chmod(0o644)
    atomic_write(target, b"new" * 100_000)
    assert target.read_bytes() == b"new" * 100_000
    assert mode_of(target) == 0o600
    assert names(tmp_path) == ["state.json"]


@pytest.mark.parametrize("step", ["replace", "fsync", "write"])
def test_crash_leaves_old_content_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old content")
    monkeypatch.setattr(_files.os, step, crash)
    with pytest.raises(Crash):
        atomic_write(target, b"new content")
    monkeypatch.undo()
    assert target.read_bytes() == b"old content"
    assert names(tmp_path) == ["state.json"]


def test_crash_before_first_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_files.os, "replace", crash)
    with pytest.raises(Crash):
        atomic_write(tmp_path / "state.json", b"new")
    monkeypatch.undo()
    assert names(tmp_path) == []


def test_file_is_fsynced_before_rename_and_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        real_fsync(fd)

    def replace(source: str, target: str) -> None:
        events.append("replace")
        real_replace(source, target)

    monkeypatch.setattr(_files.os, "fsync", fsync)
    monkeypatch.setattr(_files.os, "replace", replace)
    atomic_write(tmp_path / "state.json", b"x")
    assert events == ["fsync-file", "replace", "fsync-dir"]


def test_exclusive_creates(tmp_path: Path) -> None:
    atomic_write(tmp_path / "new.json", b"x", exclusive=True)
    assert (tmp_path / "new.json").read_bytes() == b"x"
    assert mode_of(tmp_path / "new.json") == 0o600


def test_exclusive_never_replaces(tmp_path: Path) -> None:
    target = tmp_path / "taken.json"
    target.write_bytes(b"first")
    with pytest.raises(FileExistsError, match=r"taken\.json"):
        atomic_write(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert names(tmp_path) == ["taken.json"]


def test_missing_directory_raises_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "absent" / "state.json", b"x")
    assert names(tmp_path) == []


def test_fsync_directory_accepts_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[tuple[int, int, bool]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        opened = os.fstat(fd)
        synced.append((opened.st_dev, opened.st_ino, stat.S_ISDIR(opened.st_mode)))
        real_fsync(fd)

    monkeypatch.setattr(_files.os, "fsync", fsync)
    fsync_directory(tmp_path)
    fsync_directory(str(tmp_path))
    directory = tmp_path.stat()
    assert synced == [(directory.st_dev, directory.st_ino, True)] * 2  # the directory itself


def test_make_private_directory_creates_0700_with_parents(tmp_path: Path) -> None:
    made = make_private_directory(tmp_path / "a" / "b")
    assert made == tmp_path / "a" / "b"
    assert made.is_dir()
    assert mode_of(made) == 0o700


def test_make_private_directory_keeps_existing_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o750)
    make_private_directory(shared)
    assert mode_of(shared) == 0o750


def test_move_aside_renames_with_utc_timestamp_and_keeps_bytes(tmp_path: Path) -> None:
    damaged = tmp_path / "state.json"
    content = bytes(range(256)) * 3
    damaged.write_bytes(content)
    aside = move_aside(damaged)
    assert not damaged.exists()
    assert aside.parent == tmp_path
    assert aside.name.startswith("state.json.corrupt-")
    stamp = aside.name.removeprefix("state.json.corrupt-")
    assert len(stamp) == 16 and stamp[8] == "T" and stamp.endswith("Z")
    assert aside.read_bytes() == content


def test_move_aside_never_clobbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_files, "utc_timestamp", lambda: "20261122T080000Z")
    damaged = tmp_path / "state.json"
    asides = []
    for content in (b"one", b"two", b"three"):
        damaged.write_bytes(content)
        asides.append(move_aside(damaged))
    assert [path.name for path in asides] == [
        "state.json.corrupt-20261122T080000Z",
        "state.json.corrupt-20261122T080000Z-1",
        "state.json.corrupt-20261122T080000Z-2",
    ]
    assert [path.read_bytes() for path in asides] == [b"one", b"two", b"three"]


def test_move_aside_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(source: object, target: object) -> None:
        raise PermissionError("this filesystem has no hard links")

    monkeypatch.setattr(_files.os, "link", no_links)
    monkeypatch.setattr(_files, "utc_timestamp", lambda: "20261122T080000Z")
    damaged = tmp_path / "state.json"
    damaged.write_bytes(b"one")
    first = move_aside(damaged)
    damaged.write_bytes(b"two")
    second = move_aside(damaged)
    assert (first.read_bytes(), second.read_bytes()) == (b"one", b"two")
    assert first != second


def test_move_aside_of_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        move_aside(tmp_path / "absent.json")
    assert names(tmp_path) == []


def test_utc_timestamp_format() -> None:
    from datetime import datetime, timedelta, timezone

    local = datetime(2026, 11, 22, 10, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert _files.utc_timestamp(local) == "20261122T083005Z"


@pytest.mark.parametrize(("durable", "fsyncs"), [(True, 2), (False, 0)])
def test_durable_decides_the_fsyncs(tmp_path, monkeypatch, durable, fsyncs):
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd)))
    atomic_write(tmp_path / "state.json", b"{}", durable=durable)
    assert (tmp_path / "state.json").read_bytes() == b"{}"
    assert len(calls) == fsyncs  # the file, then its directory


# -- written_then_renamed -------------------------------------------------------------


def test_written_then_renamed_appears_whole_keeping_the_suffix(tmp_path: Path) -> None:
    target = tmp_path / "garden.mp4"
    with written_then_renamed(target) as partial:
        assert partial.parent == tmp_path and partial.suffix == ".mp4"
        assert partial.name.startswith(".garden.mp4.")
        partial.write_bytes(b"video")
        assert not target.exists()
    assert target.read_bytes() == b"video"
    assert [p.name for p in tmp_path.iterdir()] == ["garden.mp4"]


def test_written_then_renamed_leaves_nothing_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "garden.mp4"
    with (
        pytest.raises(RuntimeError, match="encoder died"),
        written_then_renamed(target) as partial,
    ):
        partial.write_bytes(b"half")
        raise RuntimeError("encoder died")
    assert list(tmp_path.iterdir()) == []


def test_written_then_renamed_never_replaces_unless_asked(tmp_path: Path) -> None:
    target = tmp_path / "garden.png"
    target.write_bytes(b"earlier")
    with pytest.raises(FileExistsError, match="exists"), written_then_renamed(target):
        raise AssertionError("the block must not run")
    with written_then_renamed(target, overwrite=True) as partial:
        partial.write_bytes(b"later")
    assert target.read_bytes() == b"later"
    with (
        pytest.raises(FileExistsError, match="appeared meanwhile"),
        written_then_renamed(tmp_path / "race.png") as partial,
    ):
        partial.write_bytes(b"mine")
        (tmp_path / "race.png").write_bytes(b"theirs")
    assert (tmp_path / "race.png").read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garden.png", "race.png"]
