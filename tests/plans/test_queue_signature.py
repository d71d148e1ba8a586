"""The plans pass bluesky-queueserver's own parameter validation."""

import pytest
from bluesky_queueserver.manager.profile_ops import _process_plan, validate_plan

from bluesky_timelapse.plans import resume_timelapse, timelapse

DEVICES = {
    "cam": {
        "is_readable": True,
        "is_movable": False,
        "is_flyable": False,
        "classname": "SimCamera",
        "module": "bluesky_timelapse.devices",
    }
}


@pytest.fixture(scope="module")
def allowed_plans():
    names = {"timelapse": {}, "resume_timelapse": {}}
    return {
        plan.__name__: _process_plan(plan, existing_devices=DEVICES, existing_plans=names)
        for plan in (timelapse, resume_timelapse)
    }


def test_every_parameter_is_annotated_with_a_literal_default(allowed_plans):
    for description in allowed_plans.values():
        for parameter in description["parameters"]:
            assert "annotation" in parameter, parameter["name"]
            if "default" in parameter:
                assert eval(parameter["default"]) is not None or parameter["default"] == "None"


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
    ("kwargs", "message"),
    [
        ({"missed": "later"}, "Input should be 'skip', 'catch_up' or 'run_all'"),
        ({"on_failure": "panic"}, "Input should be 'continue' or 'stop'"),
        ({"grace": "a while"}, "grace"),
    ],
)
def test_bad_parameters_are_rejected_by_the_queue(allowed_plans, kwargs, message):
    item = {
        "name": "timelapse",
        "args": [["cam"], {"kind": "every", "interval": 60}],
        "kwargs": kwargs,
    }
    ok, reason = validate_plan(item, allowed_plans=allowed_plans, allowed_devices=DEVICES)
    assert not ok
    assert message in reason
