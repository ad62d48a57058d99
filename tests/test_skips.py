"""A skipped safety test fails the run and is named at its end; another skip is listed but
does not fail it (tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_pytest(directory: Path, test_source: str) -> tuple[int, str, str]:
    (directory / "conftest.py").write_text("from tests.conftest import *  # noqa: F403\n",
                                           encoding="utf-8")
    (directory / "test_example.py").write_text(test_source, encoding="utf-8")
    skips = directory / "skips.txt"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(directory), "-c", "/dev/null", "--strict-markers", str(directory)],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SKIPS_FILE": str(skips)})
    return done.returncode, done.stdout, skips.read_text() if skips.exists() else ""


def test_a_skipped_safety_test_fails_the_run(tmp_path: Path) -> None:
    code, out, skips = run_pytest(tmp_path, (
        "import pytest\n\n@pytest.mark.safety\ndef test_999():\n"
        "    pytest.skip('no second address')\n\ndef test_other():\n    pass\n"))
    assert code == 1
    assert "SAFETY TEST SKIPPED (fails the run): test_example.py::test_999: no second address" \
        in out
    assert skips == "SAFETY test_example.py::test_999: no second address\n"


def test_another_skip_is_listed_and_does_not_fail_the_run(tmp_path: Path) -> None:
    code, out, skips = run_pytest(tmp_path, (
        "import pytest\n\n@pytest.mark.skipif(True, reason='no shared folder')\n"
        "def test_links():\n    pass\n"))
    assert code == 0
    assert "skipped: test_example.py::test_links: no shared folder" in out
    assert skips == "test_example.py::test_links: no shared folder\n"
