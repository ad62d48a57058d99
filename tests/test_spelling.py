"""Typos are read as the words meant (addons/spelling.py), and only typos: English words,
places and other languages' words stand. The danger check reads the corrected words too."""

from __future__ import annotations

import pytest
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from addons.nlu import CORRECTED_TEXT, apply_danger_check, english_lemma_words
from addons.spelling import Speller, correct_tokens

VOCABULARY = {"passport": 40, "friend": 30, "restaurant": 5, "cannabis": 3, "terrified": 4,
              "police": 50, "agency": 20, "knife": 12, "exploited": 9, "referral": 25}


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(VOCABULARY, english_lemma_words(), {"passport": "passport"})


@pytest.mark.parametrize(("typed", "meant"), [
    ("pasport", "passport"), ("freind", "friend"), ("restrant", "restaurant"),
    ("canabis", "cannabis"), ("terified", "terrified"), ("polise", "police"),
    ("agensy", "agency"), ("referal", "referral"), ("knif", "knife")])
def test_a_typo_is_read_as_the_word_meant(speller: Speller, typed: str, meant: str) -> None:
    assert speller.correct(typed) == meant


@pytest.mark.parametrize("word", [
    "passport", "police", "knives", "happy", "leeds", "wrexham", "pomoc", "hte",
    "dog", "2am"])
def test_english_words_places_other_languages_and_short_words_stand(
        speller: Speller, word: str) -> None:
    assert speller.correct(word) is None


def tokenized(text: str) -> Message:
    message = Message.build(text)
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    return message


def test_the_classifier_gets_the_corrected_words_and_the_text_stays_as_typed(
        speller: Speller) -> None:
    message = tokenized("the agensy took my pasport")
    correct_tokens(message, speller)
    assert [t.text for t in message.get("text_tokens")] == [
        "the", "agency", "took", "my", "passport"]
    assert message.get("text") == "the agensy took my pasport"
    assert message.get(CORRECTED_TEXT) == "the agency took my passport"


def test_a_weapon_typed_wrong_is_still_danger(speller: Speller) -> None:
    message = tokenized("hes stood outside with a knif")
    message.set("intent", {"name": "report_other", "confidence": 0.9})
    message.set("intent_ranking", [{"name": "report_other", "confidence": 0.9}])
    correct_tokens(message, speller)
    apply_danger_check(message)
    assert message.get("intent") == {"name": "emergency", "confidence": 1.0}


def test_a_danger_word_no_training_example_has_is_still_read_through_a_typo() -> None:
    from addons.spelling import with_danger_words

    speller = Speller(with_danger_words(VOCABULARY), english_lemma_words())
    assert speller.correct("wakign") == "waking"
    assert speller.correct("unconsious") == "unconscious"
    message = tokenized("my cousin is not wakign up")
    message.set("intent", {"name": "report_other", "confidence": 0.9})
    message.set("intent_ranking", [{"name": "report_other", "confidence": 0.9}])
    correct_tokens(message, speller)
    apply_danger_check(message)
    assert message.get("intent")["name"] == "emergency"
