"""``RE.md`` kept in one crash-safe JSON file, shared safely between processes."""

from __future__ import annotations

import copy
import json
import logging
import multiprocessing
import os
import stat
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from bluesky import RunEngine
from bluesky.plans import count
from ophyd.sim import det

from bluesky_timelapse import _files
from bluesky_timelapse.persistence import PersistentMetadata
from bluesky_timelapse.persistence import _metadata as metadata_module
from support import Documents, only, validate


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def on_disk(path: Path) -> object:
    return json.loads(path.read_bytes())


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "md" / "md.json"


def test_starts_empty_and_writes_nothing_until_changed(path: Path) -> None:
    md = PersistentMetadata(path)
    assert dict(md) == {} and len(md) == 0
    assert not path.exists()
    assert mode_of(path.parent) == 0o700


def test_every_change_is_saved(path: Path) -> None:
    md = PersistentMetadata(path)
    md["scan_id"] = 7
    assert on_disk(path) == {"scan_id": 7}
    md["sample"] = {"name": "arabidopsis", "pots": [1, 2]}
    del md["scan_id"]
    assert on_disk(path) == {"sample": {"name": "arabidopsis", "pots": [1, 2]}}
    assert on_disk(md.backup_path) == on_disk(path)
    assert mode_of(path) == mode_of(md.backup_path) == mode_of(md.lock_path) == 0o600
    assert PersistentMetadata(path) == {"sample": {"name": "arabidopsis", "pots": [1, 2]}}


def test_mapping_behaviour(path: Path) -> None:
    md = PersistentMetadata(path)
    md.update({"a": 1}, b=2)
    assert md.setdefault("c", [3]) == [3]
    assert md.setdefault("a", 99) == 1
    assert sorted(md) == ["a", "b", "c"] and "a" in md and "z" not in md
    assert md.get("z", "default") == "default"
    with pytest.raises(KeyError):
        md["z"]
    with pytest.raises(KeyError):
        del md["z"]
    assert md.pop("b") == 2
    md.clear()
    assert dict(md) == {} and on_disk(path) == {}
    assert repr(md) == f"PersistentMetadata({str(path)!r}, {{}})"


def test_values_are_stored_as_json(path: Path) -> None:
    md = PersistentMetadata(path)
    md["shape"] = (1, 2)
    md["by_number"] = {1: "one"}
    assert md["shape"] == [1, 2] and md["by_number"] == {"1": "one"}
    assert PersistentMetadata(path) == md


@pytest.mark.parametrize(
    "value, type_name",
    [(object(), "object"), ({1, 2}, "set"), (b"bytes", "bytes"), (float("nan"), "float")],
)
def test_non_json_values_are_refused_before_writing(
    path: Path, value: object, type_name: str
) -> None:
    md = PersistentMetadata(path)
    md["kept"] = 1
    before = path.read_bytes()
    with pytest.raises(TypeError, match=f"key 'bad' is a {type_name} that JSON cannot hold"):
        md["bad"] = value
    with pytest.raises(TypeError, match="key 'nested'"):
        md["nested"] = {"deep": [value]}
    assert path.read_bytes() == before and dict(md) == {"kept": 1}


def test_non_str_keys_are_refused(path: Path) -> None:
    md = PersistentMetadata(path)
    with pytest.raises(TypeError, match="metadata key 3 is a int; allowed: str keys"):
        md[3] = "x"  # type: ignore[index]
    assert not path.exists()


def test_update_is_saved_once_all_or_nothing(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    md = PersistentMetadata(path)
    md["kept"] = 1
    writes: list[Path] = []
    real_write = metadata_module.atomic_write

    def counting_write(target: Path, data: bytes) -> None:
        writes.append(Path(target))
        real_write(target, data)

    monkeypatch.setattr(metadata_module, "atomic_write", counting_write)
    md.update(a=1, b=2, c=3)
    assert writes == [path, md.backup_path]
    with pytest.raises(TypeError, match="key 'bad'"):
        md.update(d=4, bad=object(), e=5)
    assert dict(md) == on_disk(path) == {"kept": 1, "a": 1, "b": 2, "c": 3}


def test_transaction_rolls_back_on_error(path: Path) -> None:
    md = PersistentMetadata(path)
    md["scan_id"] = 1
    with pytest.raises(RuntimeError), md.transaction():
        md["scan_id"] = 2
        with md.transaction():
            md["other"] = "x"
        raise RuntimeError("the plan failed")
    assert dict(md) == on_disk(path) == {"scan_id": 1}


def test_reads_see_changes_by_other_instances(path: Path) -> None:
    first, second = PersistentMetadata(path), PersistentMetadata(path)
    first["scan_id"] = 1
    assert second["scan_id"] == 1
    second["scan_id"] = 2
    first["operator"] = "ada"  # reloads before changing: second's change is kept
    assert dict(second) == dict(first) == {"scan_id": 2, "operator": "ada"}
    path.unlink()
    assert dict(first) == {}


def test_copies_are_plain_dicts(path: Path) -> None:
    md = PersistentMetadata(path)
    md["versions"] = {"bluesky": "1"}
    shallow, deep = copy.copy(md), copy.deepcopy(md)
    assert type(shallow) is dict and type(deep) is dict
    deep["versions"]["bluesky"] = "2"
    assert md["versions"] == {"bluesky": "1"}


def test_crash_while_saving_keeps_the_previous_content(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    md = PersistentMetadata(path)
    md["scan_id"] = 41

    def power_cut(*args: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(_files.os, "replace", power_cut)
    with pytest.raises(OSError, match="power cut"):
        md["scan_id"] = 42
    monkeypatch.undo()
    assert md["scan_id"] == 41 and on_disk(path) == {"scan_id": 41}
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "md.json",
        "md.json.bak",
        "md.json.lock",
    ]


@pytest.mark.parametrize(
    "content, reason",
    [
        (b'{"scan_id": 4', "not JSON"),
        (b"", "the file is empty"),
        (bytes(range(256)), "not JSON"),
        (b"[1, 2]", "not a JSON object but a list"),
        (b'{"scan_id": NaN}', "NaN is not JSON"),
    ],
)
def test_damaged_file_is_set_aside_and_last_good_copy_used(
    path: Path, caplog: pytest.LogCaptureFixture, content: bytes, reason: str
) -> None:
    md = PersistentMetadata(path)
    md["scan_id"] = 41
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="bluesky_timelapse.persistence"):
        recovered = PersistentMetadata(path)
    assert dict(recovered) == {"scan_id": 41}
    [aside] = path.parent.glob("md.json.corrupt-*")
    assert aside.read_bytes() == content
    assert on_disk(path) == {"scan_id": 41}
    message = caplog.records[-1].getMessage()
    assert str(path) in message and reason in message and str(aside) in message
    assert str(md.backup_path) in message
    recovered["scan_id"] += 1
    assert on_disk(path) == {"scan_id": 42}


def test_damage_seen_by_a_running_instance(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    md = PersistentMetadata(path)
    md["scan_id"] = 5
    path.write_bytes(b"\0" * 64)
    with caplog.at_level(logging.WARNING, logger="bluesky_timelapse.persistence"):
        assert md["scan_id"] == 5
    assert "is unreadable" in caplog.text


def test_damaged_file_without_good_copy_starts_empty(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir()
    path.write_bytes(b"{")
    with caplog.at_level(logging.WARNING, logger="bluesky_timelapse.persistence"):
        md = PersistentMetadata(path)
    assert dict(md) == {}
    assert "empty (no good copy)" in caplog.text
    assert [p.read_bytes() for p in path.parent.glob("md.json.corrupt-*")] == [b"{"]


def test_damaged_file_and_good_copy_are_both_kept(path: Path) -> None:
    md = PersistentMetadata(path)
    md["scan_id"] = 3
    path.write_bytes(b"x")
    md.backup_path.write_bytes(b"y")
    assert dict(PersistentMetadata(path)) == {}
    kept = sorted(p.read_bytes() for p in path.parent.glob("*.corrupt-*"))
    assert kept == [b"x", b"y"]


# -- with bluesky --------------------------------------------------------------------


def run_count(md_path: Path, *, assign_after: bool) -> Documents:
    documents: Documents = []
    if assign_after:
        engine = RunEngine({})
        engine.md = PersistentMetadata(md_path)  # type: ignore[assignment]
    else:
        engine = RunEngine(PersistentMetadata(md_path))  # type: ignore[arg-type]
    engine.subscribe(lambda name, doc: documents.append((name, doc)))
    engine(count([det]))
    engine(count([det], num=2))
    return documents


def test_scan_id_goes_on_across_run_engines(path: Path) -> None:
    first = run_count(path, assign_after=False)
    second = run_count(path, assign_after=True)
    validate(first + second)
    scan_ids = [start["scan_id"] for start in only(first + second, "start")]
    assert scan_ids == [1, 2, 3, 4]
    saved = on_disk(path)
    assert isinstance(saved, dict) and saved["scan_id"] == 4
    assert saved["versions"]["bluesky"]  # RunEngine's in-place update was saved too


# -- two processes ---------------------------------------------------------------------

ROUNDS = 200


def increment_scan_id(md_path: str, rounds: int, start: Barrier) -> None:
    md = PersistentMetadata(md_path)
    start.wait()
    for _ in range(rounds):
        with md.transaction():
            md["scan_id"] = md.get("scan_id", 0) + 1
            md["order"] = [*md.get("order", []), os.getpid()]
        time.sleep(0.002)  # let the other process in between


def set_own_keys(md_path: str, prefix: str, rounds: int, start: Barrier) -> None:
    md = PersistentMetadata(md_path)
    start.wait()
    for n in range(rounds):
        md[f"{prefix}{n}"] = n
        time.sleep(0.002)


def run_in_two_processes(
    monkeypatch: pytest.MonkeyPatch, target: Callable[..., None], *arguments: tuple[object, ...]
) -> None:
    # A spawned child imports ``target`` by its module name, tests.persistence.test_metadata
    # under --import-mode=importlib: it needs the project root on its (inherited) sys.path.
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(arguments))
    processes = [context.Process(target=target, args=(*args, start)) for args in arguments]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0, 0]


def test_two_processes_never_lose_an_increment(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    PersistentMetadata(path)["scan_id"] = 0
    run_in_two_processes(monkeypatch, increment_scan_id, (str(path), ROUNDS), (str(path), ROUNDS))
    md = PersistentMetadata(path)
    assert md["scan_id"] == 2 * ROUNDS
    order = md["order"]
    assert len(order) == 2 * ROUNDS and len(set(order)) == 2
    assert on_disk(md.backup_path) == on_disk(path)
    assert not list(path.parent.glob("*.corrupt-*"))


def test_two_processes_never_lose_each_others_keys(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_in_two_processes(
        monkeypatch, set_own_keys, (str(path), "a", ROUNDS), (str(path), "b", ROUNDS)
    )
    md = PersistentMetadata(path)
    assert len(md) == 2 * ROUNDS
    assert md["a199"] == md["b199"] == 199
