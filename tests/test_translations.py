"""The translations in content/translations/ (i18n/translations.py): complete, current, and
carrying exactly the numbers and links of their English."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from i18n.translations import (
    DOMAIN_PATH,
    PAGE,
    RESPONSES,
    TranslationError,
    content_problems,
    english_strings,
    fingerprint,
    languages,
    load_all,
    missing,
    out_of_date,
    parse,
)
from scripts.translations import status_table

ROOT = Path(__file__).resolve().parent.parent
# The languages of the people most often referred to the NRM (issue 12).
REQUIRED = ("ti", "so", "ar", "sq", "vi", "fa", "ps", "am", "ro", "pl", "zh", "uk")
RTL = {"ar", "fa", "ps", "ur", "ckb"}
LANGUAGES = sorted(languages())
OUTDATED_VALUES = ("45 days", "0300 303 8151", "0800 121 700", "15p", "08447 782406")


def domain() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load(DOMAIN_PATH.read_text(encoding="utf-8"))
    return data


def test_the_languages_of_the_people_most_often_referred_are_all_there() -> None:
    assert not [code for code in REQUIRED if code not in languages()]


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_translation_has_every_string(code: str) -> None:
    assert missing(languages()[code], english_strings()) == []


@pytest.mark.parametrize("code", LANGUAGES)
def test_no_translation_is_out_of_date(code: str) -> None:
    """When the English changes, this names every translation of it until a translator updates
    it, or checks it still says the same and re-marks it (scripts/translations.py stamp)."""
    stale = out_of_date(languages()[code], english_strings())
    assert not stale, f"{code} translates English that has changed: {stale}"


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_translation_keeps_every_number_and_link_and_teaches_the_999_words(code: str) -> None:
    assert content_problems(languages()[code], english_strings()) == []


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_language_says_who_translated_it_when_and_whether_it_is_reviewed(code: str) -> None:
    lang = languages()[code]
    assert lang.translated_by and lang.translated_on
    assert lang.review_status in ("draft", "reviewed")
    if lang.review_status == "draft":
        assert lang.reviewed_by is None and lang.reviewed_on is None
    assert lang.direction == ("rtl" if code in RTL else "ltr")
    assert lang.name and not lang.name.isascii() or code in {"so", "sq", "ro", "pl", "vi", "lt",
                                                             "pt", "es", "tr"}


def test_no_translation_states_an_outdated_value() -> None:
    for path in sorted((ROOT / "content" / "translations").glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        assert not [value for value in OUTDATED_VALUES if value in text], path.name


def test_the_card_holds_nothing_that_changes_over_time() -> None:
    card = english_strings().responses["utter_language_card"]
    assert not re.search(r"\bdays?\b|\bweeks?\b|eligib|asylum|visa", card, re.IGNORECASE)
    assert sorted(re.findall(r"\d+(?: \d+)*", card)) == ["08000 121 700", "24", "55", "999",
                                                         "999"]


def test_picker_names_are_unique() -> None:
    names = [lang.name for lang in languages().values()]
    assert len(names) == len(set(names))


# --- The out-of-date check itself -------------------------------------------------------------


def test_changing_the_english_names_every_translation_of_it() -> None:
    changed = copy.deepcopy(domain())
    responses = changed["responses"]
    assert isinstance(responses, dict)
    responses["utter_ask_who"][0]["text"] = "Who is this chat about?"
    for variants in responses.values():  # a button has one title wherever it is
        for button in variants[0].get("buttons", []):
            if button["payload"] == "/report_self":
                button["title"] = "This is happening to me"
    english = english_strings(changed)
    for lang in languages().values():
        assert out_of_date(lang, english) == [
            "responses.utter_ask_who: translates English that has changed",
            "buttons./report_self: translates English that has changed",
        ]


def test_a_removed_response_is_named_too() -> None:
    lang = next(iter(languages().values()))
    english = english_strings()
    fewer = type(english)(
        {k: v for k, v in english.responses.items() if k != "utter_glad_safe"},
        english.buttons,
    )
    assert "responses.utter_glad_safe: the English is gone" in out_of_date(lang, fewer)


def test_stamping_re_marks_a_checked_translation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    import scripts.translations as script

    source = (ROOT / "content" / "translations" / "pl.yml").read_text(encoding="utf-8")
    old = fingerprint(english_strings().responses["utter_glad_safe"])
    (tmp_path / "pl.yml").write_text(source.replace(old, "f" * 12), encoding="utf-8")
    monkeypatch.setattr(script, "TRANSLATIONS_DIR", tmp_path)
    assert out_of_date(load_all(tmp_path)["pl"], english_strings()) == [
        "responses.utter_glad_safe: translates English that has changed"
    ]
    assert script.stamp("pl", ["responses.utter_glad_safe"]) == 0
    assert out_of_date(load_all(tmp_path)["pl"], english_strings()) == []
    assert (tmp_path / "pl.yml").read_text(encoding="utf-8") == source


def test_a_malformed_file_is_refused_with_its_name() -> None:
    with pytest.raises(TranslationError, match="xx.yml: direction"):
        parse({"code": "xx", "name": "x", "english_name": "X", "direction": "up"}, "xx.yml")
    with pytest.raises(TranslationError, match="names its reviewer"):
        parse({"code": "xx", "name": "x", "english_name": "X", "direction": "ltr",
               "translation": {"by": "a", "date": "2026-12-02"},
               "review": {"status": "reviewed"}}, "xx.yml")


def test_every_translated_response_exists_and_buttons_have_one_title() -> None:
    english = english_strings()
    assert set(english.responses) == set(RESPONSES)
    assert set(PAGE) == {"danger_line", "helpline_line", "exit_label", "language_label"}


def test_the_page_header_says_what_the_translations_translate() -> None:
    page = " ".join((ROOT / "web" / "index.html").read_text(encoding="utf-8").split())
    page = page.replace("&amp;", "&")
    for key in ("exit_label",):
        assert PAGE[key] in page
    assert "In danger now? Call" in page and "08000 121 700" in page


def test_the_docs_table_of_languages_is_current() -> None:
    docs = (ROOT / "docs" / "languages.md").read_text(encoding="utf-8")
    assert status_table() in docs, "run `python scripts/translations.py status` into docs"
