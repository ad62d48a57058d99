"""The NLU gate of `make test-nlu` (scripts/nlu_report.py --gate) fails below each of its
thresholds and when there is no report; it passes only a report that meets both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scripts.nlu_report import main

ROOT = Path(__file__).resolve().parent.parent


def write_report(directory: Path, scores: dict[str, tuple[float, float]]) -> Path:
    """A `rasa test nlu` intent report: intent -> (recall, F1), 10 messages each."""
    report: dict[str, object] = {
        intent: {"precision": f1, "recall": recall, "f1-score": f1, "support": 10}
        for intent, (recall, f1) in scores.items()
    }
    report["accuracy"] = 0.9
    report["macro avg"] = {"precision": 0.1, "recall": 0.1, "f1-score": 0.1, "support": 30}
    (directory / "intent_report.json").write_text(json.dumps(report), encoding="utf-8")
    return directory


def gate(directory: Path) -> int:
    return main([str(directory), "--gate"])


def test_a_report_that_meets_both_thresholds_passes(tmp_path: Path) -> None:
    # Macro F1 exactly 0.95 is "at least 0.95".
    write_report(tmp_path, {"emergency": (1.0, 0.97), "greet": (0.95, 0.93)})
    assert gate(tmp_path) == 0
    assert "| emergency | 0.970 | 1.000 | 0.970 | 10 |" in (tmp_path / "report.md").read_text()


def test_one_danger_message_missed_fails(tmp_path: Path) -> None:
    write_report(tmp_path, {"emergency": (0.96, 0.98), "greet": (1.0, 1.0)})
    assert gate(tmp_path) == 1


def test_macro_f1_below_095_fails(tmp_path: Path) -> None:
    write_report(tmp_path, {"emergency": (1.0, 0.96), "greet": (0.9, 0.93)})  # 0.945
    assert gate(tmp_path) == 1


def test_no_danger_messages_in_the_test_file_fails(tmp_path: Path) -> None:
    write_report(tmp_path, {"greet": (1.0, 1.0)})
    assert gate(tmp_path) == 1


def test_no_report_fails_with_a_message(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "scripts/nlu_report.py", str(tmp_path), "--gate"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "NLU GATE FAILED: no report" in done.stderr


def test_without_gate_a_bad_report_is_only_reported(tmp_path: Path) -> None:
    write_report(tmp_path, {"emergency": (0.5, 0.5)})
    assert main([str(tmp_path)]) == 0
