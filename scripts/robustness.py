"""How much the model's reading of a message changes when the message is written differently.

Usage: python scripts/robustness.py [--model MODEL] [--out DIR] [--gate]

Every English message of the held-out sets (tests/nlu/, tests/nlu_fresh/) is read by the
trained model as it is, and in four variants made at a fixed seed:

- place: a UK place named in passing ("... in Leeds", "im in Cardiff. ...");
- typos: one in five words of four letters or more gets one slip of the keyboard (a letter
  dropped, doubled, swapped with the next, or replaced by a neighbour on the keyboard), and
  every message with such a word gets at least one;
- plain: lower case, no punctuation;
- role: a role first ("nurse here, ..."), except for messages that only say where someone is
  ("scotland"): "nurse here, scotland" is a professional saying who they are, and the work
  route (`practitioner`, with the nation set) is the right reading, not the place's.

For each variant: intent agreement with the unperturbed message, and danger recall (messages
labelled `emergency` read as emergency). For each set: macro F1 as `rasa test nlu` counts it.
With --gate it exits 1 unless agreement is at least MIN_AGREEMENT for every variant, danger
recall is 1.000 for every variant and every set, and macro F1 is at least MIN_MACRO_F1 for
every set but those named by --f1-report-only (reported, not gated).
The report goes to results/robustness/report.md and report.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import string
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.build_spacy_pipeline import read_places  # noqa: E402
from scripts.nlu_examples import NOT_ENGLISH, read_examples  # noqa: E402
from scripts.nlu_report import MIN_MACRO_F1  # noqa: E402
from scripts.serve import DEFAULT_MODEL  # noqa: E402

SETS = {"tests/nlu": ROOT / "tests" / "nlu", "tests/nlu_fresh": ROOT / "tests" / "nlu_fresh"}
MIN_AGREEMENT = 0.97
DANGER = "emergency"
SEED = 20261202
# Intents whose messages a variant is not made of, with why in the module docstring.
NOT_VARIED = {"role": {"inform_nation"}}
ROLES = ("nurse here, ", "im a council worker, ", "police officer here. ", "social worker here - ",
         "I'm a teacher, ", "GP here, ")
PLACE_FORMS = ("{message} in {place}", "im in {place}. {message}", "{message} ({place})")
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


@dataclass(frozen=True)
class Example:
    set: str
    intent: str
    text: str


def load_examples() -> list[Example]:
    return [Example(name, intent, text)
            for name, folder in SETS.items() for intent, text in read_examples(folder)]


def _neighbours(letter: str) -> str:
    for row in KEYBOARD_ROWS:
        index = row.find(letter.lower())
        if index >= 0:
            return row[max(index - 1, 0):index] + row[index + 1:index + 2]
    return ""


def _slip(word: str, rng: random.Random) -> str:
    position = rng.randrange(1, len(word) - 1)  # the first letter is rarely wrong
    kind = rng.choice(("drop", "double", "swap", "neighbour"))
    if kind == "drop":
        return word[:position] + word[position + 1:]
    if kind == "double":
        return word[:position] + word[position] + word[position:]
    if kind == "swap":
        return word[:position] + word[position + 1] + word[position] + word[position + 2:]
    near = _neighbours(word[position])
    return word[:position] + (rng.choice(near) if near else word[position]) + word[position + 1:]


def typos(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    eligible = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not eligible:
        return text
    chosen = [i for i in eligible if rng.random() < 0.2] or [rng.choice(eligible)]
    for index in chosen:
        words[index] = _slip(words[index], rng)
    return " ".join(words)


def plain(text: str, _rng: random.Random) -> str:
    stripped = text.lower().translate(str.maketrans("", "", string.punctuation + "’"))
    return " ".join(stripped.split())


def role(text: str, rng: random.Random) -> str:
    return rng.choice(ROLES) + text


def make_place(places: list[str]) -> Callable[[str, random.Random], str]:
    def place(text: str, rng: random.Random) -> str:
        name = rng.choice(places).title()
        return rng.choice(PLACE_FORMS).format(message=text, place=name)

    return place


def variants() -> dict[str, Callable[[str, random.Random], str]]:
    places = sorted({p for names in read_places().values() for p in names
                     if p not in ("england", "scotland", "wales", "northern ireland")})
    return {"place": make_place(places), "typos": typos, "plain": plain, "role": role}


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    """Macro F1 over the intents the messages belong to (as scripts/nlu_report.py counts)."""
    intents = sorted({gold for gold, _ in pairs})
    scores = []
    for intent in intents:
        tp = sum(1 for g, p in pairs if g == intent and p == intent)
        fp = sum(1 for g, p in pairs if g != intent and p == intent)
        fn = sum(1 for g, p in pairs if g == intent and p != intent)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


@dataclass(frozen=True)
class Reading:
    intent: str  # what the bot acts on (nlu_fallback when unsure)
    classifier: str  # the classifier's intent, fallback undone, as `rasa test nlu` counts it


async def read_all(model: Path, texts: list[str]) -> list[Reading]:
    from rasa.core.agent import Agent
    from rasa.nlu.classifiers import fallback_classifier
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    readings = []
    for text in texts:
        parsed: dict[str, Any] = await agent.parse_message(text)
        undone = (fallback_classifier.undo_fallback_prediction(parsed)
                  if fallback_classifier.is_fallback_classifier_prediction(parsed) else parsed)
        readings.append(Reading(str((parsed.get("intent") or {}).get("name")),
                                str((undone.get("intent") or {}).get("name"))))
    return readings


def evaluate(model: Path) -> dict[str, Any]:
    examples = load_examples()
    english = [e for e in examples if e.intent not in NOT_ENGLISH]
    made = variants()
    texts = [e.text for e in examples]
    perturbed: dict[str, list[str]] = {}
    varied = {name: [e for e in english if e.intent not in NOT_VARIED.get(name, set())]
              for name in made}
    for name, change in made.items():
        rng = random.Random(f"{SEED}-{name}")
        perturbed[name] = [change(e.text, rng) for e in varied[name]]
    everything = texts + [t for name in made for t in perturbed[name]]
    read = asyncio.run(read_all(model, everything))
    base = {text: reading.intent for text, reading in zip(texts, read, strict=False)}
    classified = {text: reading.classifier for text, reading in zip(texts, read, strict=False)}
    offset = len(texts)
    report: dict[str, Any] = {"sets": {}, "variants": {}, "seed": SEED}
    for name in SETS:
        pairs = [(e.intent, classified[e.text]) for e in examples if e.set == name]
        # Danger recall counts what the bot acts on: a danger message read as unsure is missed.
        danger = [base[e.text] for e in examples if e.set == name and e.intent == DANGER]
        report["sets"][name] = {
            "messages": len(pairs), "macro_f1": round(macro_f1(pairs), 3),
            "danger_recall": round(sum(p == DANGER for p in danger) / max(len(danger), 1), 3)}
    for name in made:
        these = varied[name]
        got = [reading.intent for reading in read[offset:offset + len(these)]]
        offset += len(these)
        changed = [{"original": e.text, "variant": v, "was": base[e.text], "now": g,
                    "label": e.intent}
                   for e, v, g in zip(these, perturbed[name], got, strict=True)
                   if g != base[e.text]]
        danger_total = sum(1 for e in these if e.intent == DANGER)
        danger_read = sum(1 for e, g in zip(these, got, strict=True)
                          if e.intent == DANGER and g == DANGER)
        report["variants"][name] = {
            "messages": len(these),
            "agreement": round(1 - len(changed) / len(these), 3),
            "danger_recall": round(danger_read / max(danger_total, 1), 3),
            "changed": changed,
        }
    return report


def gate_failures(report: dict[str, Any], f1_not_gated: Collection[str] = ()) -> list[str]:
    """What fails the gate. The macro F1 of a set in `f1_not_gated` is reported only."""
    failures = []
    for name, row in report["sets"].items():
        if name not in f1_not_gated and row["macro_f1"] < MIN_MACRO_F1:
            failures.append(f"{name}: macro F1 {row['macro_f1']:.3f} < {MIN_MACRO_F1}")
        if row["danger_recall"] < 1.0:
            failures.append(f"{name}: danger recall {row['danger_recall']:.3f} < 1.000")
    for name, row in report["variants"].items():
        if row["agreement"] < MIN_AGREEMENT:
            failures.append(f"{name}: agreement {row['agreement']:.3f} < {MIN_AGREEMENT}")
        if row["danger_recall"] < 1.0:
            failures.append(f"{name}: danger recall {row['danger_recall']:.3f} < 1.000")
    return failures


def render(report: dict[str, Any]) -> str:
    lines = ["# Robustness of the NLU model", "",
             f"Variants made at seed {report['seed']} (scripts/robustness.py).", "",
             "| set | messages | macro F1 | danger recall |", "|---|---:|---:|---:|"]
    for name, row in report["sets"].items():
        lines.append(f"| {name} | {row['messages']} | {row['macro_f1']:.3f} "
                     f"| {row['danger_recall']:.3f} |")
    lines += ["", "| variant | messages | agreement | danger recall |", "|---|---:|---:|---:|"]
    for name, row in report["variants"].items():
        lines.append(f"| {name} | {row['messages']} | {row['agreement']:.3f} "
                     f"| {row['danger_recall']:.3f} |")
    for name, row in report["variants"].items():
        if row["changed"]:
            lines += ["", f"## {name}: readings that changed", "",
                      "| variant | label | was | now |", "|---|---|---|---|"]
            for c in row["changed"]:
                variant = c["variant"].replace("|", "\\|")
                lines.append(f"| {variant} | {c['label']} | {c['was']} | {c['now']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "robustness")
    parser.add_argument("--gate", action="store_true")
    parser.add_argument("--f1-report-only", action="append", default=[], metavar="SET",
                        help="a set (tests/nlu_fresh) whose macro F1 is reported, not gated")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.disable(logging.WARNING)
    report = evaluate(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    text = render(report)
    (args.out / "report.md").write_text(text, encoding="utf-8")
    print(text.split("\n## ")[0])
    print(f"Report written to {args.out / 'report.md'}")
    if not args.gate:
        return 0
    failures = gate_failures(report, args.f1_report_only)
    for failure in failures:
        print(f"ROBUSTNESS GATE FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
