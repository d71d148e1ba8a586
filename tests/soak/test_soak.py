"""The chaos soak: a timelapse survives kills, Tiled outages and torn files, losing nothing.

``.ci/run`` runs the short profile (as every test); ``SOAK_PROFILE=long pytest -m soak``
or ``tox -e soak`` the long one.
"""

import os

import pytest

from soak.chaos import PROFILES, run_soak


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_a_timelapse_under_chaos_keeps_every_slot_once_and_every_frame(tmp_path, soak_tables):
    profile = PROFILES[os.environ.get("SOAK_PROFILE", "short")]
    report = run_soak(tmp_path, profile)
    soak_tables.append(report.table())

    assert report.kills == profile.kills
    assert report.outages == profile.outages
    assert report.disk_full == profile.disk_full
    assert report.store_loads_ok == report.store_loads
    assert sum(report.slots.values()) == profile.slots  # every slot reached, once
    assert report.slots["succeeded"] > 0
    assert report.duplicates == 0
    assert report.runs_without_stop == 0
    assert report.recorded_runs_not_in_tiled == 0
    assert report.runs_of_slots_not_acquired == 0
    # A slot killed before its run opened has none; every other acquired slot has one.
    acquired = report.slots["succeeded"] + report.slots["failed"]
    assert acquired <= report.runs_in_tiled <= acquired + report.slots["interrupted"]
    assert report.frames_of_succeeded_slots_missing == 0
    assert report.frames_in_tiled >= report.slots["succeeded"]
    # A frame on disk but not in Tiled can only be one a kill cut off before its event.
    assert 0 <= report.frames_on_disk - report.frames_in_tiled <= report.slots["interrupted"]
    # A kill can cut short the file a slot was creating (before or after the slot was
    # recorded running); no frame that an event names is ever in such a file (read above).
    assert report.unreadable_frame_files <= report.kills
    # The FolderCamera took a dropped file in every slot that has a frame, each the right one.
    assert report.folder_frames_in_tiled == report.frames_in_tiled
    assert report.folder_frames_wrong == 0
