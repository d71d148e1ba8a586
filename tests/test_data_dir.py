from pathlib import Path

import platformdirs

from bluesky_timelapse.data_dir import DATA_DIR_VARIABLE, DataDirectory, use_session_data_dir


def test_every_part_lies_under_the_root(tmp_path):
    paths = DataDirectory(tmp_path)
    parts = {
        paths.metadata: "md.json",
        paths.frames: "frames",
        paths.journal: "journal",
        paths.tiled: "tiled",
        paths.timelapses: "timelapses",
        paths.logs: "logs",
        paths.log_file: "logs/bluesky-timelapse.log",
        paths.qserver: "qserver",
        paths.folder_camera_state("pi"): "folder_cameras/pi.json",
    }
    for path, relative in parts.items():
        assert path == tmp_path / relative
    assert not any(tmp_path.iterdir())  # naming a part creates nothing


def test_a_relative_root_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert DataDirectory(Path("rig")).root == tmp_path / "rig"


def test_data_dir_defaults_to_the_environment_override(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    assert DataDirectory.default().root == tmp_path
    assert DataDirectory.given(None).root == tmp_path
    assert DataDirectory.given(tmp_path / "other").root == tmp_path / "other"


def test_without_the_override_it_is_the_user_data_directory(monkeypatch):
    monkeypatch.delenv(DATA_DIR_VARIABLE, raising=False)
    expected = platformdirs.user_data_path("bluesky-timelapse").absolute()
    assert DataDirectory.default().root == expected


def test_an_open_session_directory_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path / "env"))
    use_session_data_dir(tmp_path / "session")
    try:
        assert DataDirectory.default().root == tmp_path / "session"
    finally:
        use_session_data_dir(None)
    assert DataDirectory.default().root == tmp_path / "env"
