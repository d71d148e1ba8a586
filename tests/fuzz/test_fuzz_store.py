"""Fuzzing the JSON state files of earlier releases the timelapse store imports.

What :class:`TimelapseStore` promises about a damaged file: it is set aside
(``<name>.corrupt-<UTC>``), never overwritten, never deleted; the newest valid
snapshot takes its place, else :class:`CorruptStoreError` says where the files went;
a file of a newer schema is left untouched (:class:`UnsupportedVersionError`).
Checked here for arbitrary bytes in a state file:

- loading (which imports the file) returns a state of that id or raises one of those
  two errors, nothing else;
- the bytes are still on disk afterwards, in some file of the store;
- another timelapse of the same store still loads, unchanged, and ``list()`` works.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bluesky_timelapse.persistence import (
    CorruptStoreError,
    TimelapseState,
    TimelapseStore,
    UnsupportedVersionError,
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
T0 = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
RAW = "\x00raw:"
"""Marks a string to be written into the JSON text unquoted, e.g. ``1e400``."""

NASTY_NUMBERS = ["1e400", "-1e400", "1" * 40, "-0", "1e-400", "0.1e1"]
NASTY_TIMES = [
    "0001-01-01T00:00:00+01:00",  # before the year 1 in UTC
    "9999-12-31T23:59:59-01:00",  # after the year 9999 in UTC
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59.999999+00:00",
    "2026-02-30T00:00:00+00:00",
    "2026-05-01T06:00:00",  # naive
    "2026-05-01T06:00:00+24:00",
]


def state_document(timelapse_id: str) -> dict[str, Any]:
    """A valid state, as JSON data, with two slots and a suspension."""
    state = TimelapseState(
        timelapse_id=timelapse_id,
        created=T0,
        schedule={"kind": "every", "interval": 60.0, "count": 5},
        detectors=["cam"],
        md={"site": "bench"},
    )
    state.mark_running(0, T0, lateness=0.1, started=T0)
    state.mark_succeeded(0, finished=T0 + timedelta(seconds=2))
    state.mark_missed(1, T0 + timedelta(minutes=1), lateness=90.0)
    state.begin_suspension("door open", T0 + timedelta(minutes=2))
    return state.model_dump(mode="json")


def v0_document(timelapse_id: str) -> dict[str, Any]:
    """A valid state of schema version 0 (see ``_migrate_0_to_1``)."""
    return {
        "version": 0,
        "timelapse_id": timelapse_id,
        "created_at": "2026-05-01T06:00:00",
        "state": "running",
        "schedule": {"kind": "every", "interval": 60.0},
        "schedule_times": ["2026-05-01T06:00:00", "2026-05-01T06:01:00"],
        "detectors": ["cam"],
        "plan": "count",
        "plan_kwargs": {},
        "md": {},
        "warmup_sec": 1.0,
        "scans": [
            {
                "scan_id": 0,
                "started_at": "2026-05-01T06:00:01",
                "finished_at": "2026-05-01T06:00:03",
                "status": "done",
                "error": None,
            }
        ],
    }


def v1_document(timelapse_id: str) -> dict[str, Any]:
    """A valid state of schema version 1, with a ``skipped`` slot (see ``_migrate_1_to_2``)."""
    document = state_document(timelapse_id) | {"version": 1}
    skipped = {"index": 2, "scheduled": "2026-05-01T06:02:00Z", "status": "skipped"}
    document["slots"] = [*document["slots"], skipped | {"error": "outside window"}]
    return document


json_junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(NASTY_TIMES)
    | st.sampled_from([RAW + number for number in NASTY_NUMBERS]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


def paths_of(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a JSON document (the document itself included)."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths_of(value, (*prefix, index))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = replaced(copy[path[0]], path[1:], value)
    return copy


def to_bytes(document: Any) -> bytes:
    text = json.dumps(document)
    for number in NASTY_NUMBERS:
        text = text.replace(json.dumps(RAW + number), number)
    return text.encode()


@st.composite
def mutated_documents(draw: st.DrawFn, timelapse_id: str) -> bytes:
    """A valid document (this schema or an older one) with a few values replaced by junk."""
    document: Any = draw(st.sampled_from([state_document, v1_document, v0_document]))(timelapse_id)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths_of(document)))
        document = replaced(document, path, draw(json_junk))
    data = to_bytes(document)
    if draw(st.booleans()):  # and maybe damage the text itself
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=4)) + data[cut:]
    return data


def corrupt_files(timelapse_id: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        st.text(max_size=100).map(str.encode),
        json_junk.map(to_bytes),
        mutated_documents(timelapse_id),
        st.sampled_from(
            [
                b"",
                b"   \n",
                b"\xff\xfe{",
                b"[" * 5000 + b"]" * 5000,
                b'{"version": 99}',
                b'{"version": 1e400}',
                b'{"version": true}',
                b"NaN",
            ]
        ),
    )


def all_files(directory: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in directory.rglob("*") if path.is_file()}


def check_load(tmp_path: Path, data: bytes, with_snapshot: bool) -> None:
    directory = Path(tmp_path) / "store"
    directory.mkdir(parents=True)
    store = TimelapseStore(directory, keep=2)
    good = TimelapseState.model_validate(state_document("good"))
    store.create(good)
    if with_snapshot:  # as an earlier release left it
        (directory / "snapshots").mkdir(exist_ok=True)
        (directory / "snapshots" / "bad.json.1").write_text(json.dumps(state_document("bad")))
    bad_file = directory / "bad.json"
    bad_file.write_bytes(data)

    try:
        state = store.load("bad")
    except UnsupportedVersionError:
        assert bad_file.read_bytes() == data, "a newer file must be left untouched"
    except CorruptStoreError as err:
        assert err.moved_aside, "a corrupt file is set aside"
        assert data in [path.read_bytes() for path in err.moved_aside]
        assert all(
            path.parent == directory or path.parent.parent == directory for path in err.moved_aside
        )
    else:
        assert state.timelapse_id == "bad"

    # Nothing lost: the bytes are in some file, the other timelapse is as it was.
    assert data in all_files(directory).values()
    assert store.load("good") == good
    listed = [state.timelapse_id for state in store.list()]
    assert "good" in listed
    assert data in all_files(directory).values()


@FUZZ
@given(data=corrupt_files("bad"), with_snapshot=st.booleans())
@example(
    data=b'{"version":1,"timelapse_id":"bad","created":"0001-01-01T00:00:00+01:00"}',
    with_snapshot=False,
)  # OverflowError from the UTC conversion
@example(
    data=b'{"version":2,"timelapse_id":"bad","created":"0001-01-01T00:00:00+01:00"}',
    with_snapshot=False,
)  # the same in the current schema
@example(
    data=b'{"version":0,"timelapse_id":"bad","created_at":"2020-01-01","state":"done",'
    b'"schedule_times":["2020-01-01"],"scans":[{"scan_id":1e400,"status":"done"}]}',
    with_snapshot=True,
)  # int(inf) in the migration
@example(
    data=b'{"version":0,"timelapse_id":"bad","created_at":"9999-12-31T23:00:00-05:00",'
    b'"state":"done","schedule_times":[],"scans":[]}',
    with_snapshot=False,
)  # OverflowError in the migration
def test_any_bytes_load_or_raise_documented_errors_and_lose_nothing(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, with_snapshot: bool
) -> None:
    logging.getLogger("bluesky_timelapse.persistence").setLevel(logging.ERROR)
    check_load(tmp_path_factory.mktemp("fuzz-store"), data, with_snapshot)
