"""Entry point discovery (plugins.py), with a real installed third-party distribution."""

import logging

import pytest

from bluesky_timelapse import plugins
from bluesky_timelapse.devices import SimCamera
from support import install_distribution


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    """A distribution on sys.path declaring one working and one broken camera."""
    install_distribution(
        tmp_path,
        "thirdcam",
        {
            "bluesky_timelapse.devices": {
                "GoodCam": "thirdcam_good:GoodCam",
                "BrokenCam": "thirdcam_broken:BrokenCam",
            }
        },
        {
            "thirdcam_good": "class GoodCam:\n    pass\n",
            "thirdcam_broken": "raise RuntimeError('needs a driver')\n",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_the_package_registers_its_camera_and_writers():
    devices = {plugin.name: plugin for plugin in plugins.available(plugins.DEVICES)}
    assert devices["SimCamera"].distribution == "bluesky-timelapse"
    assert devices["SimCamera"].load() is SimCamera
    writers = [plugin.name for plugin in plugins.available(plugins.WRITERS)]
    assert {"tiff", "hdf5", "zarr", "npy"} <= set(writers)


def test_a_broken_plugin_is_reported_by_name_and_the_others_load(third_party, caplog):
    with caplog.at_level(logging.WARNING, logger="bluesky_timelapse.plugins"):
        loaded, broken = plugins.load_plugins(plugins.DEVICES)
    assert loaded["SimCamera"] is SimCamera
    assert loaded["GoodCam"].__name__ == "GoodCam"
    (failure,) = broken
    assert failure.plugin.name == "BrokenCam"
    assert failure.plugin.distribution == "thirdcam"
    assert failure.error == "RuntimeError: needs a driver"
    assert "plugin 'BrokenCam' (thirdcam_broken:BrokenCam, from thirdcam)" in caplog.text


def test_loading_one_broken_plugin_says_which_and_why(third_party):
    with pytest.raises(ImportError, match=r"device 'BrokenCam' .*from thirdcam\) failed to load"):
        plugins.load_plugin(plugins.DEVICES, "BrokenCam")


def test_unknown_names_and_groups_list_what_is_allowed():
    with pytest.raises(ValueError, match=r"unknown device 'Nope'; allowed: .*SimCamera"):
        plugins.load_plugin(plugins.DEVICES, "Nope")
    with pytest.raises(ValueError, match="unknown entry point group 'cameras'; allowed: "):
        plugins.available("cameras")


def test_the_package_registers_its_plans():
    from bluesky_timelapse.plans import resume_timelapse, timelapse

    plans = plugins.load_plugins(plugins.PLANS)[0]
    assert plans["timelapse"] is timelapse
    assert plans["resume_timelapse"] is resume_timelapse
