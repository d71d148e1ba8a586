"""Fuzzing FolderCamera's file name templates (sources/_file_pattern.py).

What :class:`FilePattern` promises, checked here:

- any template builds or raises a ``ValueError`` naming the template;
- ``match`` of any path returns None or the template's fields, typed (``int`` for
  ``{name:d}``, ``float`` for ``{name:f}`` and time fields, ``str`` for text); it
  never raises;
- a path written by the template (codes filled for a time, fields with values)
  matches and gives those values back, lies below ``root``, and its directory is
  one that ``directory_glob`` of that time finds.
"""

from __future__ import annotations

import fnmatch
import math
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bluesky_timelapse.sources import EXTENSIONS, STRFTIME_CODES, FilePattern

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KIND_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "time": float}

TEMPLATE_PIECES = [
    "/",
    "//",
    "data",
    "%Y",
    "%y",
    "%m",
    "%d",
    "%j",
    "%H",
    "%M",
    "%S",
    "%f",
    "%%",
    "%",
    "%q",
    "{",
    "}",
    "{{",
    "}}",
    "{name}",
    "{n:d}",
    "{x:f}",
    "{t:%Y%m%d}",
    "{t:%H%M%S}",
    "{t:%Y%Y}",
    "{t:%q}",
    "{n:s}",
    "{1bad}",
    "{}",
    "{name:d}",
    "_",
    "-",
    ".",
    "..",
    ".jpg",
    ".JPG",
    ".tif",
    ".png",
    ".gif",
]
templates = st.one_of(
    st.lists(st.one_of(st.sampled_from(TEMPLATE_PIECES), st.text(max_size=4)), max_size=10).map(
        "".join
    ),
    st.lists(st.sampled_from(TEMPLATE_PIECES), max_size=10).map(
        lambda parts: "/" + "".join(parts)
    ),
)
path_pieces = st.one_of(
    st.sampled_from(["/", "data", "2026", "05", "13", "99", "_", ".", "..", ".jpg", "-1", "1e5"]),
    st.text(max_size=5),
    st.text(alphabet="0123456789", min_size=1, max_size=12),
)
paths = st.lists(path_pieces, max_size=12).map(lambda parts: "/" + "".join(parts))


def check_match(pattern: FilePattern, path: str | Path) -> dict[str, Any] | None:
    values = pattern.match(path)
    if values is None:
        return None
    assert set(values) == set(pattern.fields)
    for name, value in values.items():
        assert type(value) is KIND_TYPES[pattern.fields[name]], (name, value)
    return values


# -- any template, any path --------------------------------------------------------


@FUZZ
@given(template=templates, path=paths)
@example(template="/data/{t:%Y%Y}.jpg", path="/data/20262026.jpg")  # was re.error
@example(template="/data/{t:%H%H}/a.jpg", path="/data/1212/a.jpg")
@example(template="/data/{n:d}.jpg", path="/data/" + "1" * 5000 + ".jpg")  # int() limit
def test_any_template_builds_or_refuses_and_matching_never_raises(
    template: str, path: str
) -> None:
    try:
        pattern = FilePattern(template)
    except ValueError as err:
        assert repr(template) in str(err) or "template" in str(err)
        return
    assert pattern.template.startswith(str(pattern.root))
    assert pattern.image_format in EXTENSIONS.values()
    check_match(pattern, path)
    check_match(pattern, Path(path))
    check_match(pattern, str(pattern.root) + path)


FIXED = [
    FilePattern("/data/{camera}/%Y/%m/%d/{t:%Y%m%d%H%M%S}_{exposure_ms:d}.jpg"),
    FilePattern("/data/{{literal}}/%%/{x:f}_{x:f}.tif"),
    FilePattern("/d/{t:%j%H%M%S%f}-{n:d}-{s}.png"),
]


@FUZZ
@given(pattern=st.sampled_from(FIXED), path=paths | st.text(max_size=40))
def test_matching_any_path_never_raises(pattern: FilePattern, path: str) -> None:
    check_match(pattern, path)


# -- round trip --------------------------------------------------------------------------

SEPARATOR = "_"
"""Between the tokens of a generated template, so that no field can swallow its neighbour."""

text_values = st.text(
    alphabet=st.characters(
        blacklist_characters="/{}%_\0", blacklist_categories=["Cs"], max_codepoint=0x2FF
    ),
    min_size=1,
    max_size=8,
)
integer_values = st.integers(-(10**12), 10**12)
number_values = st.floats(allow_nan=False, allow_infinity=False, width=32)
time_specs = st.lists(st.sampled_from(sorted(STRFTIME_CODES)), min_size=1, max_size=5, unique=True)


@st.composite
def written_paths(draw: st.DrawFn) -> tuple[str, str, datetime, dict[str, Any]]:
    """A template, a path it describes, the time its codes were filled for, the fields."""
    when = draw(st.datetimes(min_value=datetime(1971, 1, 2), max_value=datetime(2100, 1, 1)))
    fields: dict[str, tuple[str, Any]] = {}  # name -> (spec, value)
    template_components = ["data"]
    path_components = ["data"]
    n_components = draw(st.integers(1, 4))
    for position in range(n_components):
        is_file = position == n_components - 1
        template_tokens, path_tokens = [], []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["literal", "code", "field", "escape"]))
            if kind == "literal":
                text = draw(st.text(alphabet="abcXYZ09", min_size=1, max_size=4))
                template_tokens.append(text)
                path_tokens.append(text)
            elif kind == "code":
                code = draw(st.sampled_from(sorted(STRFTIME_CODES)))
                template_tokens.append("%" + code)
                path_tokens.append(when.strftime("%" + code))
            elif kind == "escape" and not is_file:
                escape, literal = draw(st.sampled_from([("%%", "%"), ("{{", "{"), ("}}", "}")]))
                template_tokens.append(escape)
                path_tokens.append(literal)
            else:
                name = draw(st.sampled_from(["a", "b", "camera", "t", "n_1"]))
                if name in fields:  # the same field again: same spec, same value
                    spec, value = fields[name]
                else:
                    spec = draw(
                        st.one_of(
                            st.sampled_from(["", "d", "f"]),
                            time_specs.map(lambda codes: "".join("%" + c for c in codes)),
                        )
                    )
                    if spec == "":
                        value = draw(text_values)
                    elif spec == "d":
                        value = draw(integer_values)
                    elif spec == "f":
                        value = float(draw(number_values))
                    else:
                        value = when
                    fields[name] = (spec, value)
                template_tokens.append("{" + name + (":" + spec if spec else "") + "}")
                if spec == "f":
                    path_tokens.append(repr(value) if math.isfinite(value) else "0")
                elif spec.startswith("%"):
                    path_tokens.append(value.strftime(spec))
                else:
                    path_tokens.append(str(value))
        template_component = SEPARATOR.join(template_tokens)
        path_component = SEPARATOR.join(path_tokens)
        if is_file:
            extension = draw(st.sampled_from(sorted(EXTENSIONS)))
            extension = draw(st.sampled_from([extension, extension.upper()]))
            template_component += extension
            path_component += extension
        template_components.append(template_component)
        path_components.append(path_component)
    expected: dict[str, Any] = {}
    for name, (spec, value) in fields.items():
        if spec.startswith("%"):
            expected[name] = datetime.strptime(value.strftime(spec), spec).timestamp()
        else:
            expected[name] = value
    template = "/" + "/".join(template_components)
    path = "/" + "/".join(path_components)
    return template, path, when, expected


@FUZZ
@given(case=written_paths())
@example(case=("/data/{a:d}_{a:d}.jpg", "/data/-5_-5.jpg", datetime(2026, 5, 1), {"a": -5}))
def test_a_written_path_matches_with_its_values(
    case: tuple[str, str, datetime, dict[str, Any]],
) -> None:
    template, path, when, expected = case
    pattern = FilePattern(template)
    values = check_match(pattern, path)
    assert values == expected
    assert pattern.image_format == EXTENSIONS[PurePosixPath(template).suffix.lower()]
    assert PurePosixPath(path).is_relative_to(pattern.root)
    # The directory is one the watch scans at ``when``: compare component by component.
    glob_parts = pattern.directory_glob(when).split("/")
    path_parts = str(PurePosixPath(path).parent).split("/")
    assert len(glob_parts) == len(path_parts)
    assert all(
        fnmatch.fnmatchcase(part, glob) for part, glob in zip(path_parts, glob_parts, strict=True)
    ), (path_parts, glob_parts)
