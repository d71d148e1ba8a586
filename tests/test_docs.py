"""The documentation builds, warnings as errors, as ``tox -e docs`` builds it."""

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).parents[1] / "docs"


def test_the_docs_build_without_a_warning(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(DOCS), str(tmp_path / "html"), "-d", str(tmp_path / "doctrees")],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-5000:]
    assert (tmp_path / "html" / "tutorial.html").is_file()
    assert (tmp_path / "html" / "howto" / "facility-tiled.html").is_file()
