"""The shipped queueserver permissions hide private (``_``) plans, devices and functions."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest
import yaml

# Not bluesky_timelapse.qserver.PERMISSIONS_FILE: importing that startup module opens a session.
PERMISSIONS_FILE = files("bluesky_timelapse") / "_qserver_permissions.yaml"

profile_ops = pytest.importorskip(
    "bluesky_queueserver.manager.profile_ops",
    reason="bluesky-queueserver is missing (pip install -e '.[test]')",
)

PLANS = ["timelapse", "resume_timelapse", "count", "a_b", "_private", "__dunder", "_timelapse"]
PUBLIC_PLANS = {"timelapse", "resume_timelapse", "count", "a_b"}
FUNCTIONS = ["status_report", "a_b", "_private", "__import__", "_reset_store"]
PUBLIC_FUNCTIONS = {"status_report", "a_b"}


def _device(components: dict[str, Any] | None = None) -> dict[str, Any]:
    description: dict[str, Any] = {
        "classname": "SimCamera",
        "module": "bluesky_timelapse.devices",
        "is_readable": True,
        "is_movable": False,
        "is_flyable": False,
    }
    if components:
        description["components"] = components
    return description


DEVICES = {
    "camera": _device(
        {"image": _device({"value": _device()}), "_secret": _device({"x": _device()})}
    ),
    "camera_2": _device(),
    "_private_camera": _device({"image": _device()}),
    "__dunder": _device(),
}
PUBLIC_DEVICES = {"camera", "camera.image", "camera.image.value", "camera_2"}


def _names(tree: dict[str, Any], prefix: str = "") -> set[str]:
    names = set()
    for name, description in tree.items():
        names.add(prefix + name)
        names |= _names(description.get("components", {}), f"{prefix}{name}.")
    return names


@pytest.fixture(scope="module")
def permissions() -> dict[str, Any]:
    """The shipped file, loaded and validated by bluesky-queueserver itself."""
    loaded: dict[str, Any] = profile_ops.load_user_group_permissions(str(PERMISSIONS_FILE))
    return loaded


def test_the_file_is_plain_yaml_with_a_root_group(permissions: dict[str, Any]) -> None:
    assert yaml.safe_load(PERMISSIONS_FILE.read_text()) == permissions
    profile_ops.validate_user_group_permissions(permissions)
    assert "root" in permissions["user_groups"]


def test_every_group_gets_the_public_plans_and_devices_only(permissions: dict[str, Any]) -> None:
    plans = {name: {"name": name, "parameters": []} for name in PLANS}
    allowed_plans, allowed_devices = profile_ops.load_allowed_plans_and_devices(
        user_group_permissions=permissions, existing_plans=plans, existing_devices=DEVICES
    )
    groups = set(permissions["user_groups"])
    assert set(allowed_plans) == set(allowed_devices) == groups
    for group in groups:
        assert set(allowed_plans[group]) == PUBLIC_PLANS, group
        assert _names(allowed_devices[group]) == PUBLIC_DEVICES, group


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_group_may_call_public_functions_only(
    permissions: dict[str, Any], function: str
) -> None:
    for group in permissions["user_groups"]:
        allowed = profile_ops.check_if_function_allowed(
            function, group_name=group, user_group_permissions=permissions
        )
        assert allowed is (function in PUBLIC_FUNCTIONS), (group, function)


def test_each_group_forbids_private_names_on_its_own(permissions: dict[str, Any]) -> None:
    """Loosening the root group alone must not expose private names to another group."""
    plans = {name: {"name": name, "parameters": []} for name in PLANS}
    groups = permissions["user_groups"]
    for group, rules in groups.items():
        alone = {
            "user_groups": {
                "root": {kind: [None] for kind in rules if kind.startswith("allowed")},
                group: rules,
            }
        }
        allowed_plans, allowed_devices = profile_ops.load_allowed_plans_and_devices(
            user_group_permissions=alone, existing_plans=plans, existing_devices=DEVICES
        )
        assert not {name for name in allowed_plans[group] if name.startswith("_")}, group
        assert all(
            not part.startswith("_")
            for name in _names(allowed_devices[group])
            for part in name.split(".")
        ), group
        for function in FUNCTIONS:
            if function.startswith("_"):
                assert not profile_ops.check_if_function_allowed(
                    function, group_name=group, user_group_permissions=alone
                ), (group, function)
