"""Path templates checked against root (devices/_paths.py)."""

from datetime import datetime
from pathlib import Path

import pytest

from bluesky_timelapse.devices import PathTemplates

WHEN = datetime(2026, 11, 22, 6, 30)


def test_strftime_fills_the_template_below_root():
    paths = PathTemplates("/data/%Y/%m/%d", root="/data").resolve(WHEN)
    assert paths.write_directory == Path("/data/2026/11/22")
    assert (paths.root, paths.relative_directory) == ("/data", "2026/11/22")


def test_a_relative_template_is_relative_to_root():
    paths = PathTemplates("cam/%H%M", root="/data/").resolve(WHEN)
    assert paths.write_directory == Path("/data/cam/0630")
    assert (paths.root, paths.relative_directory) == ("/data", "cam/0630")


def test_the_template_may_be_root_itself():
    paths = PathTemplates("/data", root="/data").resolve(WHEN)
    assert paths.relative_directory == "."
    assert paths.resource_path("") == "./"
    assert paths.resource_path("cam.h5") == "cam.h5"


def test_resource_paths_join_below_the_read_directory():
    paths = PathTemplates("/data/%Y", root="/data").resolve(WHEN)
    assert paths.resource_path("") == "2026/"
    assert paths.resource_path("cam.zarr/data") == "2026/cam.zarr/data"


@pytest.mark.parametrize(
    ("template", "resolved"),
    [
        ("/elsewhere/%Y", "/elsewhere/2026"),
        ("../escape", "/escape"),
        ("/data/../etc", "/etc"),
        ("2026/../../etc", "/etc"),
        ("/database", "/database"),
    ],
)
def test_a_template_leaving_root_names_both_paths(template, resolved):
    templates = PathTemplates(template, root="/data")
    with pytest.raises(ValueError, match=rf"resolves to '{resolved}', outside root '/data'"):
        templates.resolve(WHEN)


def test_dotdot_that_stays_inside_root_is_fine():
    paths = PathTemplates("a/../b", root="/data").resolve(WHEN)
    assert paths.write_directory == Path("/data/b")


def test_a_separate_read_path_is_what_documents_record():
    templates = PathTemplates(
        "/mnt/camera/%Y", root="/nfs/data", read_path_template="/nfs/data/cam/%Y"
    )
    paths = templates.resolve(WHEN)
    assert paths.write_directory == Path("/mnt/camera/2026")
    assert (paths.root, paths.relative_directory) == ("/nfs/data", "cam/2026")


def test_a_read_path_leaving_root_is_refused():
    templates = PathTemplates("/mnt/cam", root="/nfs/data", read_path_template="/other")
    with pytest.raises(ValueError, match="'/other', outside root '/nfs/data'"):
        templates.resolve(WHEN)


def test_windows_semantics_for_readers():
    templates = PathTemplates(
        "/mnt/cam/%Y",
        root="C:\\data",
        read_path_template="C:\\data\\cam\\%Y",
        path_semantics="windows",
    )
    paths = templates.resolve(WHEN)
    assert paths.write_directory == Path("/mnt/cam/2026")
    assert (paths.root, paths.relative_directory) == ("C:\\data", "cam\\2026")
    assert paths.resource_path("") == "cam\\2026\\"
    assert paths.resource_path("x.zarr/data") == "cam\\2026\\x.zarr\\data"
    with pytest.raises(ValueError, match="outside root"):
        PathTemplates(
            "/mnt/cam", root="C:\\data", read_path_template="D:\\cam", path_semantics="windows"
        ).resolve(WHEN)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"root": "data"}, "root 'data' is not an absolute posix path"),
        (
            {"path_semantics": "mac"},
            "path_semantics 'mac' is not supported; allowed: posix, windows",
        ),
        ({"write_path_template": "a\0b"}, "contains a NUL byte"),
        ({"write_path_template": ""}, "write_path_template is empty"),
        ({"path_semantics": "windows", "root": "C:\\data"}, "give read_path_template"),
        ({"read_path_template": "/data/x", "write_path_template": "rel"}, "must be an absolute"),
    ],
)
def test_bad_templates_fail_at_construction(kwargs, message):
    arguments = {"write_path_template": "/data/x", "root": "/data"} | kwargs
    with pytest.raises(ValueError, match=message):
        PathTemplates(**arguments)
