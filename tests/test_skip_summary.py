"""The test run ends with what was skipped and why (tests/conftest.py's summary hook)."""

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def run_pytest(directory: Path, files: dict[str, str]) -> list[str]:
    """Run pytest on ``files`` beside a copy of tests/conftest.py; its output's lines."""
    (directory / "conftest.py").write_text((TESTS / "conftest.py").read_text())
    for name, text in files.items():
        (directory / name).write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(directory)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=directory,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_the_summary_groups_skips_by_reason_and_names_a_module_skipped_whole(tmp_path):
    lines = run_pytest(
        tmp_path,
        {
            "test_some.py": (
                "import pytest\n"
                "REDIS = 'redis-server not found (apt-get install redis-server)'\n"
                "@pytest.mark.skipif(True, reason=REDIS)\n"
                "@pytest.mark.parametrize('n', [1, 2, 3])\n"
                "def test_needs_redis(n): pass\n"
                "def test_skips_itself(): pytest.skip('no camera (plug one in)')\n"
                "def test_runs(): pass\n"
            ),
            "test_missing.py": (
                "import pytest\n"
                "pytest.importorskip('no_such_module', reason='nope is missing (pip install nope)')\n"
            ),
        },
    )
    section = next(i for i, line in enumerate(lines) if "skipped, and why" in line)
    assert lines[section + 1 : section + 4] == [
        "skipped 3 tests: redis-server not found (apt-get install redis-server)",
        "skipped 1 test: no camera (plug one in)",
        "skipped all of test_missing.py: nope is missing (pip install nope)",
    ]
    assert "1 passed, 5 skipped" in lines[-1], lines[-1]


def test_a_run_without_skips_has_no_skip_section(tmp_path):
    lines = run_pytest(tmp_path, {"test_fine.py": "def test_runs(): pass\n"})
    assert not any("skipped, and why" in line for line in lines)
    assert "1 passed" in lines[-1], lines[-1]
