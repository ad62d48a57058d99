"""Which language a message is in (addons/language.py `identify`), on messages written for it:
tests/language/detection.yml (held out: never used to tune the detector) and the issue's first
message in twelve languages. The figures per language are in docs/languages.md
(scripts/language_report.py); here, what must never happen."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from addons.language import LanguageCheck
from i18n.translations import languages
from scripts.language_report import DETECTION_FILE, make_check, outcome, report

ROOT = Path(__file__).resolve().parent.parent
DATA = yaml.safe_load(DETECTION_FILE.read_text(encoding="utf-8"))
FIRST = yaml.safe_load((ROOT / "tests" / "language" / "first_messages.yml").read_text("utf-8"))


@pytest.fixture(scope="module")
def check() -> LanguageCheck:
    return make_check()


def cases(section: str) -> list[tuple[str | None, str]]:
    expected = (lambda code: None) if section == "unsupported" else (lambda code: code)
    return [(expected(code), text) for code, texts in DATA[section].items() for text in texts]


@pytest.mark.parametrize("code", sorted(FIRST))
def test_the_issues_first_message_is_answered_in_its_own_language(
    check: LanguageCheck, code: str
) -> None:
    found = check.identify(FIRST[code])
    if code in ("ti", "am") and found.language is None:
        # Ethiopic script that cannot be told apart: both cards, never the wrong one.
        assert found.option_cards == ("ti", "am")
    else:
        assert found.language == code, found


@pytest.mark.parametrize("section", ["sentences", "short", "romanised", "unsupported"])
def test_no_message_is_ever_given_another_language(check: LanguageCheck, section: str) -> None:
    wrong = [(code, text, check.identify(text)) for code, text in cases(section)
             if outcome(check.identify(text), code) == "wrong"]
    assert not wrong


def test_english_messages_stay_english(check: LanguageCheck) -> None:
    taken = [text for text in DATA["english"] if check.identify(text).english is False]
    assert not taken


def test_every_language_the_bot_has_is_in_the_held_out_set() -> None:
    assert set(languages()) <= set(DATA["sentences"]) and set(languages()) <= set(DATA["short"])


def test_ethiopic_that_cannot_be_told_apart_gets_both_cards(check: LanguageCheck) -> None:
    for text in ("ሓገዝ", "እርዳታ", "ፖሊስ"):
        found = check.identify(text)
        assert found.language is None and found.option_cards == ("ti", "am")


def test_short_arabic_script_gets_the_picker_with_its_languages_first(check: LanguageCheck
                                                                        ) -> None:
    found = check.identify("کمک")
    assert found.language is None
    assert set(found.options) == {"ar", "fa", "ps", "ur", "ckb"} and found.option_cards == ()


def test_the_docs_table_is_what_the_detector_does_now(check: LanguageCheck) -> None:
    docs = (ROOT / "docs" / "languages.md").read_text(encoding="utf-8")
    assert report(check) in docs, "run `python scripts/language_report.py` into docs/languages.md"
