"""scripts/classifier_probe.py reads the sets as the bot's gates do (no PyTorch needed here)."""

from __future__ import annotations

from pathlib import Path

from scripts.classifier_probe import SETS, macro_f1, read

NLU = """version: "3.1"
nlu:
- intent: report_other
  examples: |
    - the car wash in [Leeds](uk_place) keeps their passports
    - workers sleep at the [nail bar]{"entity": "business"}
- intent: other_language
  examples: |
    - pomocy
- synonym: wales
  examples: |
    - cardiff
"""


def test_read_takes_english_examples_with_entity_marks_taken_off(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(NLU, encoding="utf-8")
    texts, intents = read(tmp_path)
    assert texts == ["the car wash in Leeds keeps their passports", "workers sleep at the nail bar"]
    assert intents == ["report_other", "report_other"]


def test_every_set_it_reads_exists_and_has_messages() -> None:
    for path in SETS.values():
        texts, intents = read(path)
        assert texts and len(texts) == len(intents)


def test_macro_f1_averages_the_intents_of_the_set() -> None:
    # deny is missed (F1 0); affirm is found, and predicted once wrongly too (F1 2/3).
    assert macro_f1(["affirm", "deny"], ["affirm", "affirm"]) == 0.5 * (2 / 3)
