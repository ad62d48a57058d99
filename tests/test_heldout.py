"""The held-out NLU messages are held out: none of them is among the training examples, once
case, punctuation, spacing and entity marks are set aside. The NLU gate's figures mean
something only while this holds."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import pytest

from tests.helpers import ROOT, nlu_blocks, plain

TRAINING = "data/nlu"
HELD_OUT = sorted({path.parent.relative_to(ROOT).as_posix()
                   for path in (ROOT / "tests").glob("nlu*/*.yml")})


def normalise(text: str) -> str:
    """What two messages share when they are the same words: no entity marks, case,
    punctuation or extra spaces."""
    text = unicodedata.normalize("NFKC", plain(text)).casefold()
    text = re.sub(r"['\u2019]", "", text)  # "I'm" and "im" are one spelling here
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def intent_examples(folder: str) -> Iterator[tuple[str, str]]:
    """(intent, message) for each intent example of the Rasa NLU files of a folder."""
    for block, texts in nlu_blocks(folder):
        if "intent" in block:  # not synonyms, lookups or regexes: not messages
            for text in texts:
                yield str(block["intent"]), text


def test_normalising_sets_aside_case_punctuation_and_entity_marks() -> None:
    assert normalise("I'm in [Leeds](uk_place)!") == normalise("im in leeds") == "im in leeds"
    assert normalise('[Cardiff]{"entity": "uk_place"}, HELP') == "cardiff help"


def test_there_are_held_out_sets_and_training_data() -> None:
    assert HELD_OUT and any(intent_examples(TRAINING))
    assert sum(1 for folder in HELD_OUT for _ in intent_examples(folder)) >= 250


@pytest.mark.parametrize("held_out", HELD_OUT)
def test_no_held_out_message_is_a_training_example(held_out: str) -> None:
    trained = {normalise(text): intent for intent, text in intent_examples(TRAINING)}
    overlaps = [f"{text!r} ({intent}) is also a training example of {trained[normalise(text)]}"
                for intent, text in intent_examples(held_out) if normalise(text) in trained]
    assert not overlaps, "held-out messages that were trained on:\n" + "\n".join(overlaps)
