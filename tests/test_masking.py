"""A place or a role in a message never decides its intent (addons/masking.py): the classifier
sees the rest of the message, with the project's real spaCy pipeline and Rasa's tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
from rasa.shared.nlu.training_data.message import Message

from addons.masking import apply_masks
from scripts.build_spacy_pipeline import build


@pytest.fixture(scope="module")
def nlp(tmp_path_factory: pytest.TempPathFactory) -> spacy.language.Language:
    output: Path = tmp_path_factory.mktemp("spacy_uk")
    build(output)
    return spacy.load(output)


def seen(nlp: spacy.language.Language, text: str) -> list[str]:
    """The words the featurizers and the classifier get, as SpacyNLP (lower case) and
    SpacyTokenizer make them, after the masker."""
    message = Message.build(text)
    message.set("text_spacy_doc", nlp(text.lower()))
    SpacyTokenizer(SpacyTokenizer.get_default_config()).process([message])
    apply_masks(message)
    return [token.text for token in message.get("text_tokens")]


@pytest.mark.parametrize(("with_it", "without"), [
    ("hi from Leeds", "hi"),
    ("im in Milton Keynes and they took my passport", "and they took my passport"),
    ("what is the nrm (Cardiff)", "what is the nrm"),
    ("nurse here, can i refer without consent", ", can i refer without consent"),
    ("Im a council worker in Aberdeen, what is duty to notify", ", what is duty to notify"),
    ("i work at the hospital in Leeds and a patient has no passport",
     "i work at the hospital and a patient has no passport"),
])
def test_places_and_roles_are_taken_out_when_the_message_says_more(
        nlp: spacy.language.Language, with_it: str, without: str) -> None:
    assert seen(nlp, with_it) == without.split()


@pytest.mark.parametrize("town", ["Leeds", "Swansea", "Inverness", "Newry", "Milton Keynes"])
def test_a_message_that_only_says_where_reads_the_same_for_every_town(
        nlp: spacy.language.Language, town: str) -> None:
    assert seen(nlp, f"I'm in {town}") == ["i", "'m", "in", "__place__"]


def test_a_message_that_only_gives_a_role_keeps_the_role_as_one_token(
        nlp: spacy.language.Language) -> None:
    assert seen(nlp, "im a social worker") == ["i", "m", "a", "__role__"]


def test_a_message_with_neither_is_untouched(nlp: spacy.language.Language) -> None:
    assert seen(nlp, "they took my passport") == ["they", "took", "my", "passport"]


def corrected(nlp: spacy.language.Language, text: str,
              vocabulary: dict[str, int]) -> Message:
    """The message after the tokenizer, the spelling normaliser and the masker."""
    from addons.spelling import Speller, correct_tokens

    message = Message.build(text)
    message.set("text_spacy_doc", nlp(text.lower()))
    SpacyTokenizer(SpacyTokenizer.get_default_config()).process([message])
    correct_tokens(message, Speller(vocabulary, set()))
    apply_masks(message, nlp)
    return message


@pytest.mark.parametrize(("typed", "nation"), [
    ("i live in walees", "wales"), ("we are in northen ireland", "northern ireland"),
])
def test_a_place_typed_with_a_slip_is_still_a_place(
        nlp: spacy.language.Language, typed: str, nation: str) -> None:
    message = corrected(nlp, typed, {"wales": 5, "northern": 3, "ireland": 3, "live": 9})
    assert "__place__" in [token.text for token in message.get("text_tokens")]
    assert [(e["entity"], e["value"]) for e in message.get("entities")] == [("uk_place", nation)]


def test_a_role_typed_with_a_slip_is_taken_out_like_the_role(
        nlp: spacy.language.Language) -> None:
    message = corrected(nlp, "sociaal worker here, how do i submit a dtn",
                        {"social": 4, "worker": 4, "submit": 2})
    assert [token.text for token in message.get("text_tokens")] == \
        [",", "how", "do", "i", "submit", "a", "dtn"]
    assert not message.get("entities")
