"""Telling English from other languages (addons/language.py, addons/nlu.py)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from addons.language import HELP_WORDS, LanguageCheck
from addons.nlu import (
    CORRECTED_TEXT,
    LANGUAGE_UNSURE,
    OTHER_LANGUAGE,
    apply_language_check,
    build_lexicon,
)
from i18n.translations import languages
from tests.helpers import nlu_blocks, plain


def examples(folder: str, other_language: bool) -> list[str]:
    return [
        plain(text)
        for block, texts in nlu_blocks(folder)
        if "intent" in block
        and (block["intent"] in (OTHER_LANGUAGE, LANGUAGE_UNSURE)) == other_language
        for text in texts
    ]


@pytest.fixture(scope="module")
def check() -> LanguageCheck:
    # The lexicon as LanguageGate.train builds it.
    lexicon = build_lexicon(examples("data/nlu", other_language=False))
    return LanguageCheck(lexicon, languages())


def test_no_held_out_english_message_is_taken_for_another_language(check: LanguageCheck) -> None:
    english = examples("tests/nlu", other_language=False)
    assert len(english) >= 150
    flagged = [(text, check.check(text)) for text in english if check.check(text).english is False]
    assert not flagged


@pytest.mark.parametrize(
    "text",
    ["pomóż mi proszę, szef zabrał mi paszport", "nu am primit bani de trei luni",
     "më ndihmoni ju lutem", "giúp tôi với", "帮帮我，他们拿走了我的护照", "ساعدني من فضلك",
     "помогите мне", "帮帮我", "救命", "necesito ayuda, mi jefe tiene mi pasaporte",
     "Padėkite man"],
)
def test_messages_in_other_languages_are_recognised(check: LanguageCheck, text: str) -> None:
    assert check.check(text).english is False


@pytest.mark.parametrize(
    "text",
    ["pomocy", "Ajutor!", "ndihmë", "cứu", "cứu tôi", "caawi", "pagalba", "yardım", "socorro",
     "Hilfe", "aiuto", "tulong", "msaada", "pomocy please", "help ajutor"],
)
def test_a_word_for_help_in_another_language_is_enough(check: LanguageCheck, text: str) -> None:
    verdict = check.check(text)
    assert verdict.english is False
    assert verdict.reason == "a word for help in another language"


def test_the_help_words_are_not_english_words(check: LanguageCheck) -> None:
    assert not [word for word in HELP_WORDS if word in check.lexicon]


@pytest.mark.parametrize("text", ["ok", "hi", "999", "🙏🙏", "?", "help", "NRM"])
def test_short_messages_are_not_judged(check: LanguageCheck, text: str) -> None:
    assert check.check(text).english is not False


def _message(text: str, ranking: list[tuple[str, float]]) -> Message:
    intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    return Message(data={"text": text, "intent": intents[0], "intent_ranking": intents})


def test_the_gate_sets_other_language_and_keeps_the_rest_of_the_ranking(
    check: LanguageCheck,
) -> None:
    message = _message("necesito ayuda por favor, mi jefe tiene mi pasaporte",
                       [("greet", 0.6), ("emergency", 0.3)])
    apply_language_check(message, check)
    assert message.get("intent") == {"name": OTHER_LANGUAGE, "confidence": 1.0}
    names = [intent["name"] for intent in message.get("intent_ranking")]
    assert names == [OTHER_LANGUAGE, "greet", "emergency"]
    assert [(e["entity"], e["value"]) for e in message.get("entities")] == [("language", "es")]


def test_the_gate_names_the_languages_it_may_be_when_unsure(check: LanguageCheck) -> None:
    message = _message("ሓገዝ", [(OTHER_LANGUAGE, 0.98), ("greet", 0.01)])
    apply_language_check(message, check)
    assert message.get("intent")["name"] == LANGUAGE_UNSURE
    # The classifier's close other_language goes, or the fallback would call it ambiguous.
    assert [i["name"] for i in message.get("intent_ranking")] == [LANGUAGE_UNSURE, "greet"]
    assert [(e["entity"], e["value"]) for e in message.get("entities")] == [
        ("language_option", "ti"), ("language_option", "am")
    ]


def test_the_classifiers_own_other_language_becomes_unsure(check: LanguageCheck) -> None:
    # Unknown words, but nothing sure: the classifier's guess stands, without a language.
    text = "zzkx qwv plomb"
    assert check.identify(text).english is None
    message = _message(text, [(OTHER_LANGUAGE, 0.7), ("greet", 0.2)])
    apply_language_check(message, check)
    assert message.get("intent")["name"] == LANGUAGE_UNSURE


def test_the_gate_overrules_other_language_for_an_english_message(check: LanguageCheck) -> None:
    message = _message("my boss took my passport", [(OTHER_LANGUAGE, 0.5), ("report_self", 0.4)])
    apply_language_check(message, check)
    assert message.get("intent")["name"] == "report_self"


def test_english_with_typos_the_speller_put_right_stays_english(check: LanguageCheck) -> None:
    text = "hello frriend"
    assert check.identify(text).english is not True  # the typed words alone look foreign
    message = _message(text, [("greet", 0.9), ("thanks", 0.05)])
    message.set(CORRECTED_TEXT, "hello friend")
    apply_language_check(message, check)
    assert message.get("intent")["name"] == "greet"


def test_another_language_stays_another_language_after_the_speller(check: LanguageCheck) -> None:
    # The speller may put a few foreign words "right"; the rest still is not English.
    message = _message("necesito ayuda por favor, mi jefe tiene mi pasaporte",
                       [("greet", 0.6), ("emergency", 0.3)])
    message.set(CORRECTED_TEXT, "necesito ayuda por favor, mi jefe tiene mi passport")
    apply_language_check(message, check)
    assert message.get("intent")["name"] == OTHER_LANGUAGE


def test_button_payloads_are_left_alone(check: LanguageCheck) -> None:
    message = _message("/report_self", [("report_self", 1.0)])
    apply_language_check(message, check)
    assert message.get("intent")["name"] == "report_self"


@pytest.mark.parametrize(
    "text", ["pomóż mi \ud800 proszę szef zabrał paszport", "nie\x00mogę wyjść z domu teraz"]
)
def test_text_the_detectors_cannot_read_gets_no_crash(check: LanguageCheck, text: str) -> None:
    assert check.identify(text).language in (None, "pl")
