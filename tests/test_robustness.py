"""The variants scripts/robustness.py makes of each held-out message, and its gate."""

from __future__ import annotations

import random

from scripts.build_spacy_pipeline import read_places
from scripts.robustness import gate_failures, plain, role, typos, variants

MESSAGE = "My boss keeps our passports, what can I do?"


def test_each_variant_is_the_same_at_the_same_seed() -> None:
    for change in variants().values():
        assert change(MESSAGE, random.Random(7)) == change(MESSAGE, random.Random(7))


def test_typos_slip_at_least_one_long_word_and_keep_the_rest() -> None:
    changed = typos(MESSAGE, random.Random(3))
    words, slipped = MESSAGE.split(), changed.split()
    assert len(words) == len(slipped)
    different = [(a, b) for a, b in zip(words, slipped, strict=True) if a != b]
    assert different and all(len(a) >= 4 and a[0] == b[0] for a, b in different)


def test_plain_is_lower_case_without_punctuation() -> None:
    assert plain("He's got my PASSPORT!", random.Random(1)) == "hes got my passport"


def test_role_and_place_are_added_around_the_message() -> None:
    assert role(MESSAGE, random.Random(1)).endswith(MESSAGE)
    placed = variants()["place"](MESSAGE, random.Random(1))
    assert MESSAGE in placed
    known = {name for names in read_places().values() for name in names}
    assert any(name.title() in placed for name in known)


def test_the_gate_fails_below_each_threshold() -> None:
    good = {"sets": {"a": {"macro_f1": 0.95, "danger_recall": 1.0}},
            "variants": {"typos": {"agreement": 0.97, "danger_recall": 1.0}}}
    assert gate_failures(good) == []
    for part, key, value in (("sets", "macro_f1", 0.949), ("sets", "danger_recall", 0.99),
                             ("variants", "agreement", 0.969),
                             ("variants", "danger_recall", 0.99)):
        bad = {"sets": {"a": dict(good["sets"]["a"])},
               "variants": {"typos": dict(good["variants"]["typos"])}}
        name = "a" if part == "sets" else "typos"
        bad[part][name][key] = value
        assert len(gate_failures(bad)) == 1, (part, key)


def test_a_set_whose_f1_is_reported_only_still_needs_every_danger_message() -> None:
    report = {"sets": {"fresh": {"macro_f1": 0.8, "danger_recall": 1.0}},
              "variants": {"typos": {"agreement": 0.97, "danger_recall": 1.0}}}
    assert len(gate_failures(report)) == 1
    assert gate_failures(report, ["fresh"]) == []
    report["sets"]["fresh"]["danger_recall"] = 0.96
    assert len(gate_failures(report, ["fresh"])) == 1
