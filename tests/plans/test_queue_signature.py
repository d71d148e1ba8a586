"""The plans pass bluesky-queueserver's own parameter validation."""

import ast
import inspect

import pytest
from bluesky_queueserver.manager.profile_ops import _process_plan, validate_plan

from bluesky_timelapse.plans import ingest_backlog, resume_timelapse, timelapse

PLANS = (timelapse, resume_timelapse, ingest_backlog)
DEVICES = {
    name: {
        "is_readable": True,
        "is_movable": False,
        "is_flyable": False,
        "classname": classname,
        "module": "bluesky_timelapse.devices",
    }
    for name, classname in (("cam", "SimCamera"), ("folder", "FolderCamera"))
}


@pytest.fixture(scope="module")
def allowed_plans():
    names = {plan.__name__: {} for plan in PLANS}
    return {
        plan.__name__: _process_plan(plan, existing_devices=DEVICES, existing_plans=names)
        for plan in PLANS
    }


def test_every_parameter_is_annotated_with_a_literal_default(allowed_plans):
    for plan in PLANS:
        signature = inspect.signature(plan)
        for parameter in allowed_plans[plan.__name__]["parameters"]:
            name = f"{plan.__name__}({parameter['name']})"
            assert "annotation" in parameter, name
            default = signature.parameters[parameter["name"]].default
            if default is inspect.Parameter.empty:
                assert "default" not in parameter, name
                continue
            # The queue carries the default as text: a literal that reads back the same.
            assert ast.literal_eval(repr(default)) == default, name
            read_back = ast.literal_eval(parameter["default"])
            assert read_back == default and type(read_back) is type(default), name


def test_a_good_timelapse_item_validates(allowed_plans):
    item = {
        "name": "timelapse",
        "args": [["cam"], {"kind": "every", "interval": "10m", "count": 3}],
        "kwargs": {"missed": "catch_up", "grace": 5.0, "md": {"sample": "basil"}},
    }
    assert validate_plan(item, allowed_plans=allowed_plans, allowed_devices=DEVICES) == (True, "")
    resume = {
        "name": "resume_timelapse",
        "args": ["basil-1", ["cam"]],
        "kwargs": {"missed": "skip"},
    }
    assert validate_plan(resume, allowed_plans=allowed_plans, allowed_devices=DEVICES) == (
        True,
        "",
    )


@pytest.mark.parametrize(
    "item",
    [
        {"name": "ingest_backlog", "args": ["folder"], "kwargs": {}},
        {"name": "ingest_backlog", "args": [], "kwargs": {"camera": "folder", "md": {"a": 1}}},
    ],
)
def test_a_good_ingest_backlog_item_validates(allowed_plans, item):
    assert validate_plan(item, allowed_plans=allowed_plans, allowed_devices=DEVICES) == (True, "")


def test_the_backlog_camera_is_given_by_device_name(allowed_plans):
    (camera, _) = allowed_plans["ingest_backlog"]["parameters"]
    assert camera["annotation"] == {"type": "__READABLE__"}
    assert camera["convert_device_names"] is True


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "message"),
    [
        (
            "timelapse",
            [["cam"], {"kind": "every", "interval": 60}],
            {"missed": "later"},
            "Input should be 'skip', 'catch_up' or 'run_all'",
        ),
        (
            "timelapse",
            [["cam"], {"kind": "every", "interval": 60}],
            {"on_failure": "panic"},
            "Input should be 'continue' or 'stop'",
        ),
        ("timelapse", [["cam"], {"kind": "every", "interval": 60}], {"grace": "a while"}, "grace"),
        (
            "resume_timelapse",
            ["basil-1", ["cam"]],
            {"missed": "later"},
            "Input should be 'skip', 'catch_up' or 'run_all'",
        ),
        ("resume_timelapse", ["basil-1", ["cam"]], {"store": 3}, "store"),
        ("ingest_backlog", ["folder"], {"md": "a note"}, "Input should be a valid dictionary"),
    ],
)
def test_bad_parameters_are_rejected_by_the_queue(allowed_plans, name, args, kwargs, message):
    item = {"name": name, "args": args, "kwargs": kwargs}
    ok, reason = validate_plan(item, allowed_plans=allowed_plans, allowed_devices=DEVICES)
    assert not ok
    assert message in reason
