"""Skips are never silent: every skipped test of a run is listed at its end and added to
results/skips.txt (which `make test` prints at the end), and a skipped safety test fails the
run, so a check of 999, danger, hardening or supervision can never pass by not running.

Safety tests: the modules in SAFETY_MODULES, and any test marked `safety`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIPS_FILE = Path(os.environ.get("SKIPS_FILE", ROOT / "results" / "skips.txt"))
SAFETY_MODULES = frozenset({
    "tests/test_danger.py",
    "tests/test_channel.py",
    "tests/test_text.py",
    "tests/test_heldout.py",
    "tests/e2e/test_bad_input.py",
    "tests/e2e/test_conversations.py",
    "tests/e2e/test_flood.py",
    "tests/e2e/test_hardening.py",
    "tests/e2e/test_languages.py",
    "tests/e2e/test_supervision.py",
    "tests/production/test_rasa_machine.py",
    "tests/production/test_run_production.py",
    "tests/web/test_chat_page.py",
    "tests/web/test_limits.py",
})
_skipped: list[tuple[str, str, bool]] = []  # (test, reason, safety?)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "safety: a safety check; a skip of it fails the run (tests/conftest.py)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            module = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        except ValueError:
            continue
        if module in SAFETY_MODULES:
            item.add_marker(pytest.mark.safety)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        _skipped.append((item.nodeid, str(reason).removeprefix("Skipped: "),
                         item.get_closest_marker("safety") is not None))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for test, reason, safety in _skipped:
        label = "SAFETY TEST SKIPPED (fails the run)" if safety else "skipped"
        terminalreporter.write_line(f"{label}: {test}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _skipped:
        return
    SKIPS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with SKIPS_FILE.open("a", encoding="utf-8") as handle:
        for test, reason, safety in _skipped:
            handle.write(f"{'SAFETY ' if safety else ''}{test}: {reason}\n")
    if any(safety for _, _, safety in _skipped) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
