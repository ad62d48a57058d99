"""addons/alternation.py: the danger words are found where, and only where, Python's own search
of the whole pattern finds them, on every message the project has and on random text."""

from __future__ import annotations

import random
import re

import pytest

from addons.alternation import WordAlternation, split_alternatives
from addons.danger import DANGER, DANGER_MATCHES
from scripts.nlu_examples import read_examples
from tests.helpers import ROOT

FOLDERS = ("data/nlu", "tests/nlu", "tests/nlu_dev", "tests/nlu_fresh", "tests/language")


def spans(matches: object) -> list[tuple[int, int]]:
    return [match.span() for match in matches]  # type: ignore[attr-defined]


def every_message() -> list[str]:
    return [text for folder in FOLDERS for _, text in read_examples(ROOT / folder)]


def test_every_message_of_the_project_gets_the_same_danger_matches() -> None:
    texts = every_message()
    assert len(texts) > 5000
    differing = [t for t in texts if spans(DANGER_MATCHES.finditer(t)) != spans(DANGER.finditer(t))]
    assert differing == []
    assert sum(1 for t in texts if DANGER.search(t)) > 400  # the sets have real danger in them


def test_random_text_gets_the_same_danger_matches() -> None:
    rng = random.Random(20261203)
    words = sorted({w.lower() for t in every_message() for w in re.findall(r"[\w']+", t)})
    odd = "abcXYZ .,!?'-()\n\tÀéſKİı😀"  # punctuation, capitals, letters beyond ASCII
    texts = []
    for _ in range(5000):
        pieces = [rng.choice(words) if rng.random() < 0.8
                  else "".join(rng.choice(odd) for _ in range(rng.randint(1, 5)))
                  for _ in range(rng.randint(1, 30))]
        text = rng.choice([" ", "  ", ", ", "'"]).join(pieces)
        texts.append(text.upper() if rng.random() < 0.1 else text)
    differing = [t for t in texts if spans(DANGER_MATCHES.finditer(t)) != spans(DANGER.finditer(t))]
    assert differing == []


@pytest.mark.parametrize(
    "text",
    [
        "he'll kill her if she talks",  # a match starting at the apostrophe (`\b'll`)
        "HE'S GOT A KNIFE",
        "!!! help me",  # `^` alternatives
        "help me",
        "they are outside the door now, he has a gun and he'll stab me",
        "my phone is going to die",  # `\b\w+ ... die` with its exception
        "Ça va, he's got a knife",  # a letter beyond ASCII first
    ],
)
def test_known_messages_get_the_same_matches(text: str) -> None:
    assert spans(DANGER_MATCHES.finditer(text)) == spans(DANGER.finditer(text))


def test_the_alternatives_are_the_patterns_alternatives() -> None:
    verbose = r"\ba|\b(b|c)  # a comment | not an alternative" "\n| ^[|#]d"
    assert split_alternatives(verbose) == [r"\ba", "\\b(b|c)  \n", " ^[|#]d"]
    assert split_alternatives(r"\ba#|b", verbose=False) == [r"\ba#", "b"]
    assert len(DANGER_MATCHES.alternatives) == len(split_alternatives(DANGER.pattern))


@pytest.mark.parametrize(
    ("pattern", "flags"),
    [
        (r"\bknife|gun", re.IGNORECASE),  # an alternative with no \b or ^ before it
        (r"\bknife|\b.gun", re.IGNORECASE),  # may start with any character
        (r"\bknife|^gun", re.IGNORECASE | re.MULTILINE),  # ^ at every line
    ],
)
def test_a_pattern_it_cannot_index_is_refused(pattern: str, flags: int) -> None:
    with pytest.raises(ValueError):
        WordAlternation(re.compile(pattern, flags))
