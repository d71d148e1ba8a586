"""Fuzzing the YAML config loader of ``bluesky-timelapse run CONFIG.yaml`` (run_config.py).

:func:`load_config` promises to read, check and build a config file, to write
nothing, and to raise :class:`ConfigError` (whose message points at the file, line
and key of each problem) for anything it cannot use. Checked here for arbitrary
YAML text and for arbitrary nested data dumped as YAML:

- it returns a :class:`LoadedConfig` or raises :class:`ConfigError`, nothing else;
- every problem of a ``ConfigError`` names the file, and a line inside it whenever
  the file is a YAML mapping;
- no file or directory is created, changed or removed, in the config's directory
  or in the default data directory.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bluesky_timelapse.data_dir import DATA_DIR_VARIABLE
from bluesky_timelapse.run_config import ConfigError, LoadedConfig, load_config

YAML_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
"""What YAML counts as a line break: its marks count lines by these."""
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = """\
cameras:
  - class: SimCamera
    name: garden
    shape: [4, 6]
schedule: {kind: every, interval: 10m, count: 3}
timelapse: {grace: 60, missed: skip, md: {site: greenhouse}}
storage: {data_dir: data}
tiled: {uri: null}
suspenders: {min_free: 5GB}
"""

# -- strategies -----------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["10m", "-4", "1h30m", "5GB", "abc", "%Y/%m/%d", "../..", "/", ""]),
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(scalars, inner, max_size=3),
    max_leaves=8,
)


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(value, junk)


cameras = st.fixed_dictionaries(
    {
        "class": maybe(st.sampled_from(["SimCamera", "FolderCamera", "NoSuchCamera"])),
        "name": maybe(st.sampled_from(["garden", "bench", "cam-1"])),
    },
    optional={
        "shape": maybe(st.lists(st.integers(1, 8), min_size=2, max_size=3)),
        "writer": maybe(st.sampled_from(["tiff", "hdf5", "npy", "png"])),
        "root": maybe(st.sampled_from(["/tmp/x", "frames", "/data/\0"])),
        "write_path_template": maybe(st.sampled_from(["%Y/%m/%d", "../../etc", "/etc"])),
        "template": maybe(st.sampled_from(["/nowhere/%Y/{t:%H%M%S}.jpg", "/x/{a:%Y%Y}.png"])),
        "shap": junk,
    },
)
schedules = st.fixed_dictionaries(
    {
        "kind": maybe(st.sampled_from(["every", "at", "daily", "union"])),
    },
    optional={
        "interval": maybe(st.sampled_from(["10m", 10, 0, -4, "1e400", 10**400])),
        "count": maybe(st.integers(-2, 5)),
        "times": maybe(st.lists(st.sampled_from(["2026-05-01T06:00", "x"]), max_size=2)),
        "start": maybe(st.sampled_from(["2026-05-01T06:00", "0001-01-01T00:00+01:00"])),
        "start_time": maybe(st.just("06:00")),
        "end_time": maybe(st.just("20:00")),
        "schedules": junk,
    },
)
sections = st.fixed_dictionaries(
    {},
    optional={
        "cameras": maybe(st.lists(maybe(cameras), max_size=3)),
        "schedule": maybe(schedules),
        "timelapse": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "grace": junk,
                    "missed": maybe(st.sampled_from(["skip", "catch_up", "never"])),
                    "plan": maybe(st.sampled_from(["count", "nope", "_private"])),
                    "timelapse_id": maybe(st.sampled_from(["ok-1", "../x", ".hidden"])),
                    "standby_threshold": junk,
                    "md": junk,
                },
            )
        ),
        "storage": maybe(st.fixed_dictionaries({}, optional={"data_dir": junk})),
        "tiled": maybe(st.fixed_dictionaries({}, optional={"uri": junk})),
        "suspenders": maybe(
            st.fixed_dictionaries({}, optional={"min_free": junk, "max_backlog": junk})
        ),
        "colour": junk,
    },
)

YAML_PIECES = [
    "cameras:",
    "  - class: SimCamera",
    "    name: garden",
    "schedule: {kind: every, interval: 10m}",
    "schedule: {kind: at, times: [2026-05-01T06:00:00Z]}",
    "timelapse: {grace: 60}",
    "  ",
    "\t",
    "- a",
    "? [a, b]",
    ": x",
    "&a [*a]",
    "<<: {}",
    "!!python/object:os.system",
    "!!binary '==='",
    "%YAML 1.1",
    "---",
    "...",
    '"\\x00"',
    "{",
    "]",
    "key: 2026-05-01",
    "key: 0x1F",
    "key: 1_000",
]
yaml_texts = st.one_of(
    st.lists(st.one_of(st.sampled_from(YAML_PIECES), st.text(max_size=10)), max_size=8).map(
        "\n".join
    ),
    st.text(max_size=100),
    st.just(VALID),
)

# -- checks ---------------------------------------------------------------------------


@contextmanager
def sandbox() -> Iterator[Path]:
    """A directory for the config file, with the default data directory inside it."""
    previous = os.environ.get(DATA_DIR_VARIABLE)
    with tempfile.TemporaryDirectory(prefix="fuzz-config-") as name:
        directory = Path(name)
        os.environ[DATA_DIR_VARIABLE] = str(directory / "default-data")
        try:
            yield directory
        finally:
            if previous is None:
                del os.environ[DATA_DIR_VARIABLE]
            else:
                os.environ[DATA_DIR_VARIABLE] = previous


def tree(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(directory)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in directory.rglob("*")
    }


def check_load(text: str | bytes) -> LoadedConfig | None:
    """Load ``text`` as a config file: a LoadedConfig or a ConfigError, nothing written."""
    with sandbox() as directory:
        path = directory / "rig.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = tree(directory)
        try:
            loaded = load_config(path)
        except ConfigError as err:
            check_config_error(err, path)
            loaded = None
        assert tree(directory) == before, "loading a config wrote to disk"
        return loaded


def check_config_error(err: ConfigError, path: Path) -> None:
    assert err.problems, "a ConfigError lists at least one problem"
    lines = str(err).splitlines()
    assert all(line.startswith(str(path)) for line in lines if line.startswith("/")), lines
    assert str(err).startswith(str(path))
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (UnicodeDecodeError, yaml.YAMLError, ValueError, AttributeError, RecursionError):
        return
    n_lines = len(YAML_LINE_BREAK.split(text))
    for line, message in err.problems:
        assert message.strip()
        if isinstance(data, dict):
            assert line is not None, f"no line for {message!r}"
        if line is not None:
            assert 1 <= line <= n_lines, (line, n_lines)


# -- properties --------------------------------------------------------------------------


@FUZZ
@given(data=sections)
@example(data={"cameras": [{"class": "SimCamera", "name": "x"}], "schedule": {1: 2}})
@example(
    data={
        "cameras": [{"class": "SimCamera", "name": "x"}],
        "schedule": {"kind": "every", "interval": 10**400},
    }
)  # was an OverflowError from the schedule (fixed in schedules/)
@example(
    data={
        "cameras": [{"class": "SimCamera", "name": "x"}],
        "schedule": {"kind": "every", "interval": 10, "start": "0001-01-01T00:00+01:00"},
    }
)  # was an OverflowError from the schedule (fixed in schedules/)
def test_any_config_data_loads_or_raises_config_error(data: dict[str, Any]) -> None:
    check_load(yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(text=yaml_texts)
@example(text="schedule: {kind: at, times: [2026-02-30]}\n")  # ValueError: day out of range
@example(text="a: !!int abc\n")  # ValueError
@example(text="a: !!timestamp abc\n")  # AttributeError
@example(text="[" * 2000 + "]" * 2000)  # RecursionError
def test_any_yaml_text_loads_or_raises_config_error(text: str) -> None:
    check_load(text)


def test_a_value_yaml_cannot_convert_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("cameras: []\nschedule: {kind: at, times: [2026-02-30]}\n")
    with pytest.raises(
        ConfigError, match=r"bad.yaml:2: cannot read the value '2026-02-30' as timestamp"
    ):
        load_config(path)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=50).map(lambda raw: b"cameras: \xff" + raw))
def test_a_file_that_is_not_utf8_raises_config_error(data: bytes) -> None:
    check_load(data)


def test_the_valid_config_loads_without_writing() -> None:
    loaded = check_load(VALID)
    assert loaded is not None
    assert [camera.name for camera in loaded.cameras] == ["garden"]
