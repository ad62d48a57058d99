"""The held-out NLU messages are held out: none of them is among the training examples, once
case, punctuation, spacing and entity marks are set aside. The NLU gate's figures mean
something only while this holds."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TRAINING = sorted((ROOT / "data" / "nlu").glob("*.yml"))
HELD_OUT = sorted((ROOT / "tests").glob("nlu*/*.yml"))
ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def normalise(text: str) -> str:
    """What two messages share when they are the same words: no entity marks, case,
    punctuation or extra spaces."""
    text = ENTITY.sub(r"\1", text)
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"['’]", "", text)  # "I'm" and "im" are one spelling here
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def intent_examples(path: Path) -> Iterator[tuple[str, str]]:
    """(intent, message) for each intent example of a Rasa NLU file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for block in data.get("nlu") or []:
        if "intent" not in block:
            continue  # synonyms, lookups, regexes: not messages
        for line in str(block.get("examples", "")).splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield str(block["intent"]), line[2:]


def test_normalising_sets_aside_case_punctuation_and_entity_marks() -> None:
    assert normalise("I'm in [Leeds](uk_place)!") == normalise("im in leeds") == "im in leeds"
    assert normalise('[Cardiff]{"entity": "uk_place"}, HELP') == "cardiff help"


def test_there_are_held_out_sets_and_training_data() -> None:
    assert TRAINING and HELD_OUT
    assert sum(1 for path in HELD_OUT for _ in intent_examples(path)) >= 250


@pytest.mark.parametrize("held_out", HELD_OUT, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_no_held_out_message_is_a_training_example(held_out: Path) -> None:
    trained = {normalise(text): (intent, path.name)
               for path in TRAINING for intent, text in intent_examples(path)}
    overlaps = [f"{text!r} ({intent}) is also in data/nlu/{trained[normalise(text)][1]}"
                for intent, text in intent_examples(held_out) if normalise(text) in trained]
    assert not overlaps, "held-out messages that were trained on:\n" + "\n".join(overlaps)
