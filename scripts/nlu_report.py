"""Per-intent NLU report from `rasa test nlu` output, and the quality gate of `make test`.

Usage: python scripts/nlu_report.py RESULTS_DIR [--gate] [--title TITLE]

Reads RESULTS_DIR/intent_report.json and intent_errors.json (written by `rasa test nlu`),
prints a table of precision, recall and F1 per intent with the confusions, writes it to
RESULTS_DIR/report.md, and with --gate exits 1 unless
- every danger intent (DANGER_INTENTS) has recall 1.0: nobody in danger is misunderstood, and
- the macro F1 over the intents of the test file is at least MIN_MACRO_F1.
Macro F1 is averaged over the intents that the test messages belong to; a prediction of
nlu_fallback counts as a miss for its intent, not as a class of its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DANGER_INTENTS = ("emergency",)
MIN_MACRO_F1 = 0.95
IGNORED_KEYS = {"accuracy", "macro avg", "micro avg", "weighted avg"}


@dataclass(frozen=True)
class IntentScore:
    intent: str
    precision: float
    recall: float
    f1: float
    support: int
    confused_with: dict[str, int]


def read_scores(report: dict[str, Any]) -> list[IntentScore]:
    """The intents that have test messages (support > 0), worst F1 first."""
    scores = [
        IntentScore(
            intent=name,
            precision=float(values["precision"]),
            recall=float(values["recall"]),
            f1=float(values["f1-score"]),
            support=int(values["support"]),
            confused_with={k: int(v) for k, v in values.get("confused_with", {}).items()},
        )
        for name, values in report.items()
        if name not in IGNORED_KEYS and isinstance(values, dict) and values.get("support", 0) > 0
    ]
    return sorted(scores, key=lambda s: (s.f1, s.intent))


def macro_f1(scores: list[IntentScore]) -> float:
    return sum(s.f1 for s in scores) / len(scores) if scores else 0.0


def gate_failures(scores: list[IntentScore]) -> list[str]:
    failures = []
    by_intent = {s.intent: s for s in scores}
    for intent in DANGER_INTENTS:
        score = by_intent.get(intent)
        if score is None:
            failures.append(f"no test messages for the danger intent {intent}")
        elif score.recall < 1.0:
            failures.append(f"recall of {intent} is {score.recall:.3f}, must be 1.000")
    macro = macro_f1(scores)
    if macro < MIN_MACRO_F1:
        failures.append(f"macro F1 is {macro:.3f}, must be at least {MIN_MACRO_F1:.2f}")
    return failures


def render(title: str, scores: list[IntentScore], errors: list[dict[str, Any]]) -> str:
    lines = [
        f"# {title}",
        "",
        f"Intents: {len(scores)}, messages: {sum(s.support for s in scores)}, "
        f"macro F1: {macro_f1(scores):.3f}",
        "",
        "| intent | precision | recall | F1 | messages | confused with |",
        "|---|---|---|---|---|---|",
    ]
    for s in scores:
        confused = ", ".join(f"{k} ({v})" for k, v in sorted(s.confused_with.items(),
                                                              key=lambda kv: -kv[1]))
        lines.append(f"| {s.intent} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | "
                     f"{s.support} | {confused} |")
    if errors:
        lines += ["", "## Misunderstood messages", "", "| message | intent | predicted |",
                  "|---|---|---|"]
        for error in sorted(errors, key=lambda e: (e["intent"], e["text"])):
            predicted = error.get("intent_prediction", {})
            name = predicted.get("name")
            confidence = predicted.get("confidence") or 0.0
            text = error["text"].replace("|", "\\|")
            lines.append(f"| {text} | {error['intent']} | {name} ({confidence:.2f}) |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--gate", action="store_true")
    parser.add_argument("--title", default="NLU evaluation")
    args = parser.parse_args(argv)
    report_file = args.results / "intent_report.json"
    if not report_file.exists():
        print(f"NLU GATE FAILED: no report at {report_file} (did `rasa test nlu` run?)",
              file=sys.stderr)
        return 1
    report = json.loads(report_file.read_text(encoding="utf-8"))
    errors_file = args.results / "intent_errors.json"
    errors = json.loads(errors_file.read_text(encoding="utf-8")) if errors_file.exists() else []
    scores = read_scores(report)
    text = render(args.title, scores, errors)
    (args.results / "report.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"Report written to {args.results / 'report.md'}")
    if not args.gate:
        return 0
    failures = gate_failures(scores)
    for failure in failures:
        print(f"NLU GATE FAILED: {failure}", file=sys.stderr)
    if not failures:
        print(f"NLU gate passed: recall 1.000 for {', '.join(DANGER_INTENTS)}, "
              f"macro F1 {macro_f1(scores):.3f} >= {MIN_MACRO_F1}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
