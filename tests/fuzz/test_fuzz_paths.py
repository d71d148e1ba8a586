"""Fuzzing path templates (devices/_paths.py, as FileStoreMixin resolves them at stage).

The promise: a path template never resolves outside ``root``. Whatever the template
(``..``, absolute parts, NUL bytes, Windows separators and drives, strftime codes)
and whatever time fills it, :meth:`PathTemplates.resolve` either returns paths
inside ``root``, whose ``root`` and ``relative_directory`` spell the resolved read
directory again, or raises a ``ValueError`` that names the template or field.
"""

from __future__ import annotations

import ntpath
import posixpath
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bluesky_timelapse.devices import FileStoreMixin, PathTemplates, ResolvedPaths

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WHEN = datetime(2026, 5, 1, 6, 30, 15)

PIECES = [
    "..",
    ".",
    "",
    "a",
    "b c",
    "%Y",
    "%m",
    "%d",
    "%D",  # 05/01/26: strftime codes may add separators
    "%c",
    "%x",
    "%",
    "%%",
    "%..",
    "\\",
    "..\\..",
    "C:",
    "c:\\",
    "D:x",
    "/",
    "//",
    "\\\\srv\\share",
    "\\\\?\\C:\\",
    "\0",
    "~",
    "b:c",
    "\udc80",  # a surrogate, as os.fsdecode makes of bytes that are not UTF-8
]

pieces = st.one_of(st.sampled_from(PIECES), st.text(max_size=6))
templates = st.lists(pieces, min_size=1, max_size=7).flatmap(
    lambda parts: st.lists(
        st.sampled_from(["/", "\\", ""]), min_size=len(parts), max_size=len(parts)
    ).map(lambda seps: "".join(sep + part for sep, part in zip(seps, parts, strict=True)))
)
posix_roots = st.one_of(
    st.sampled_from(["/", "/data", "/data/frames/", "//", "///x", "/data/..", "/a/./b", "/a b"]),
    templates.map(lambda template: "/" + template),
    st.text(max_size=10),
)
windows_roots = st.one_of(
    st.sampled_from(
        ["C:\\", "C:\\data", "c:/Data/", "\\\\srv\\share", "\\\\srv\\share\\a", "C:", "\\x"]
    ),
    templates.map(lambda template: "C:\\" + template),
)
times = st.datetimes()  # years 1 to 9999


def check_resolved(paths: ResolvedPaths, templates: PathTemplates, when: datetime) -> None:
    """The resolved read directory is inside root, and root + relative spell it."""
    windows = paths.path_semantics == "windows"
    pure = PureWindowsPath if windows else PurePosixPath
    flavour = ntpath if windows else posixpath

    assert paths.root == flavour.normpath(templates.root)
    relative = pure(paths.relative_directory)
    assert not relative.is_absolute() and not relative.drive and not relative.root
    assert ".." not in relative.parts

    # Independently: the template filled for ``when``, joined below root, normalised.
    template = templates.read_path_template or templates.write_path_template
    expected = flavour.normpath(str(pure(paths.root, when.strftime(template))))
    rebuilt = flavour.normpath(flavour.join(paths.root, paths.relative_directory))
    if windows:  # case-insensitive
        assert rebuilt.lower() == expected.lower()
        assert PureWindowsPath(rebuilt.lower()).is_relative_to(paths.root.lower())
    else:
        assert rebuilt == expected
        assert PurePosixPath(rebuilt).is_relative_to(paths.root)

    if templates.read_path_template is None:
        assert paths.write_directory == Path(expected)
        assert ".." not in paths.write_directory.parts
        assert paths.write_directory.is_relative_to(paths.root)

    # What FileStoreMixin puts in the Resource stays below root as well.
    for name in ("", "cam_20260501T063015_0a1b2c3d.tiff", "cam.h5"):
        resource = pure(paths.resource_path(name))
        assert not resource.is_absolute() and ".." not in resource.parts


def check_error(err: ValueError, values: Mapping[str, str | None]) -> None:
    """A refusal names the offending template (or field) and what it resolved to."""
    message = str(err)
    assert any(
        (value is not None and repr(value) in message) or name in message
        for name, value in values.items()
    ), message


@FUZZ
@given(template=templates, root=posix_roots, when=times)
@example(template="..", root="/data", when=WHEN)
@example(template="a/../../b", root="/data", when=WHEN)
@example(template="/etc", root="/data", when=WHEN)
@example(template="//x", root="/", when=WHEN)
@example(template="%D/..", root="/data", when=WHEN)
@example(template="a\0b", root="/data", when=WHEN)
@example(template="\udc80", root="/data", when=WHEN)  # strftime cannot encode it
@example(template="%Y\udc80", root="/data", when=WHEN)
def test_posix_templates_stay_inside_root(template: str, root: str, when: datetime) -> None:
    values = {"write_path_template": template, "root": root}
    try:
        templates = PathTemplates(write_path_template=template, root=root)
        paths = templates.resolve(when)
    except ValueError as err:
        check_error(err, values)
        return
    check_resolved(paths, templates, when)


@FUZZ
@given(read=templates, root=posix_roots, write=templates, when=times)
@example(read="../x", root="/data", write="/local", when=WHEN)
def test_posix_read_templates_stay_inside_root(
    read: str, root: str, write: str, when: datetime
) -> None:
    write = "/" + write
    values = {"read_path_template": read, "root": root, "write_path_template": write}
    try:
        templates = PathTemplates(write_path_template=write, root=root, read_path_template=read)
        paths = templates.resolve(when)
    except ValueError as err:
        check_error(err, values)
        return
    check_resolved(paths, templates, when)


@FUZZ
@given(read=templates, root=windows_roots, when=times)
@example(read="a\\b:c", root="C:\\data", when=WHEN)  # was relative_directory 'b:c'
@example(read="..\\..\\other\\b", root="\\\\srv\\share\\a", when=WHEN)
@example(read="\\\\?\\C:\\data\\x", root="C:\\data", when=WHEN)
@example(read="C:x", root="C:\\data", when=WHEN)
@example(read="c:\\DATA\\x", root="C:\\data", when=WHEN)
@example(read="D:\\data\\x", root="C:\\data", when=WHEN)
def test_windows_read_templates_stay_inside_root(read: str, root: str, when: datetime) -> None:
    values = {"read_path_template": read, "root": root}
    try:
        templates = PathTemplates(
            write_path_template="/local/frames",
            root=root,
            read_path_template=read,
            path_semantics="windows",
        )
        paths = templates.resolve(when)
    except ValueError as err:
        check_error(err, values)
        return
    check_resolved(paths, templates, when)


class _Device(FileStoreMixin):
    """The mixin alone: its constructor checks the templates as a device's does."""

    name = "fuzz"


@settings(max_examples=50, deadline=None)
@given(template=templates, root=posix_roots, semantics=st.sampled_from(["posix", "windows"]))
def test_filestore_mixin_refuses_with_value_error(
    template: str, root: str, semantics: str
) -> None:
    """The mixin builds its PathTemplates at construction: ValueError or a usable device."""
    try:
        device = _Device(
            write_path_template=template,
            root=root,
            path_semantics=semantics,  # type: ignore[arg-type]
            writer=None,
        )
    except ValueError as err:
        check_error(err, {"write_path_template": template, "root": root, "path": semantics})
        return
    try:
        paths = device.path_templates.resolve(WHEN)
    except ValueError as err:
        check_error(err, {"write_path_template": template, "root": root})
        return
    check_resolved(paths, device.path_templates, WHEN)


@pytest.mark.parametrize("root", ["/data", "/"])
def test_a_template_equal_to_root_resolves_to_root(root: str) -> None:
    paths = PathTemplates(write_path_template=root, root=root).resolve(WHEN)
    assert paths.relative_directory == "."
    assert paths.write_directory == Path(root)
