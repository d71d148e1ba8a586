"""File name templates, compiled (sources/_file_pattern.py)."""

from datetime import datetime
from pathlib import Path

import pytest

from bluesky_timelapse.sources import FilePattern

ISSUE = "/data/{camera_name}/%Y/%m/%d/{timestamp:%Y%m%d%H%M%S}_{exposure_ms}.jpg"


def test_the_issue_template_reads_its_fields():
    pattern = FilePattern(ISSUE)
    assert pattern.root == Path("/data")
    assert pattern.image_format == "jpeg"
    assert pattern.fields == {
        "camera_name": "string",
        "timestamp": "time",
        "exposure_ms": "string",
    }
    values = pattern.match("/data/pi/2025/06/01/20250601120000_250.jpg")
    assert values == {
        "camera_name": "pi",
        "timestamp": datetime(2025, 6, 1, 12).timestamp(),
        "exposure_ms": "250",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/data/pi/2025/06/01/20250601120000_250.png",  # another ending
        "/data/pi/2025/6/01/20250601120000_250.jpg",  # one-digit month
        "/data/pi/2025/06/01/20251301120000_250.jpg",  # month 13
        "/data/pi/2025/06/01/extra/20250601120000_250.jpg",  # one directory too many
        "/elsewhere/pi/2025/06/01/20250601120000_250.jpg",
        "/data/p{i}/2025/06/01/20250601120000_250.jpg",  # braces cannot reach Tiled
    ],
)
def test_paths_that_do_not_match(path):
    assert FilePattern(ISSUE).match(path) is None


@pytest.mark.parametrize(
    ("ending", "image_format"),
    [(".JPG", "jpeg"), (".Jpeg", "jpeg"), (".TIF", "tiff"), (".TIFF", "tiff"), (".PNG", "png")],
)
def test_an_ending_in_any_case_is_accepted_with_its_format(ending, image_format):
    pattern = FilePattern("/data/%Y/{n:d}" + ending)
    assert pattern.image_format == image_format
    assert pattern.match(f"/data/2025/7{ending}") == {"n": 7}
    assert pattern.match(f"/data/2025/7{ending.lower()}") is None  # files end as the template


def test_typed_fields_repeated_fields_and_literals():
    pattern = FilePattern("/d/{cam}/100%%/{{raw}}/{cam}_{n:d}_{gain:f}_%H%M.tiff")
    assert pattern.root == Path("/d")
    assert pattern.match("/d/a/100%/{raw}/a_-3_1.5e2_1230.tiff") == {
        "cam": "a",
        "n": -3,
        "gain": 150.0,
    }
    assert pattern.match("/d/a/100%/{raw}/b_3_1_1230.tiff") is None  # cam differs
    assert pattern.match("/d/a/100%/{raw}/a_3.5_1_1230.tiff") is None  # n is no integer


def test_the_fixed_head_is_every_directory_before_the_first_placeholder():
    assert FilePattern("/a/b/c/%Y/x_{n}.tif").root == Path("/a/b/c")
    assert FilePattern("/a/b/{n}.tif").root == Path("/a/b")
    assert FilePattern("/a/100%%/{n}.tif").root == Path("/a/100%")


def test_directory_globs_follow_the_date():
    pattern = FilePattern("/d/{cam}/cam-%Y/%m/%d/{{raw}}/{t:%H%M%S}.tiff")
    assert pattern.directory_glob(datetime(2025, 6, 1, 23)) == "/d/*/cam-2025/06/01/{raw}"
    assert pattern.directory_glob(datetime(2025, 6, 2, 0)) == "/d/*/cam-2025/06/02/{raw}"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("data/{n}.tif", "is not an absolute path"),
        ("/data/%A/{n}.tif", r"'%A' in template .* not supported; allowed: %Y, %y"),
        ("/data/{n}%.tif", r"'%\.' in template"),
        ("/data/{n:x}.tif", r"field spec 'x' of \{n\} .* allowed: none \(text\), 'd'"),
        ("/data/{t:%B}.tif", r"'%B' in template"),
        ("/data/{2n}.tif", "field name '2n' .* invalid; allowed: a Python identifier"),
        ("/data/{n.tif", "unbalanced '{' in '{n.tif'"),
        ("/data/n}.tif", "unbalanced '}'"),
        ("/data/{n}/{n:d}.tif", "field 'n' appears twice .* with different specs"),
        ("/data/{n}.bmp", r"ends in '.bmp'; allowed: a file name ending in .tif, .tiff, .jpg"),
        ("/data/{n}.BMP", r"ends in '.BMP'; allowed: .* \.png, in any case"),
        ("/data/{n}", "ends in 'no extension'"),
        ("/{n}/x.tif", "no fixed directory to watch"),
        ("/data//{n}.tif", "empty path component"),
        ("/data/{n}_100%%.tif", "'%' or a brace in its file name"),
    ],
)
def test_bad_templates_name_the_part_and_what_is_allowed(template, message):
    with pytest.raises(ValueError, match=message):
        FilePattern(template)
