"""When the bot is unsure, it asks instead of ending the exchange (addons/ask_instead.py through
addons/nlg.py), with Rasa's real Domain and DialogueStateTracker: a story gets "Who is this
about?", anything else its likeliest meanings as buttons, and both keep 999 and the helpline."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.nlg import TranslatingNLG

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
WHO = ["/report_self", "/report_other", "/practitioner", "/report_child", "/talk_to_person"]


def unsure(text: str, ranking: list[tuple[str, float]]) -> DialogueStateTracker:
    intents = [{"name": "nlu_fallback", "confidence": 0.3}] + [
        {"name": name, "confidence": confidence} for name, confidence in ranking]
    parse = {"intent": intents[0], "intent_ranking": intents, "text": text}
    event = UserUttered(text, intents[0], [], parse_data=parse)
    return DialogueStateTracker.from_events("t", [event], slots=DOMAIN.slots)


def answer(tracker: DialogueStateTracker) -> dict[str, Any]:
    message = asyncio.run(TranslatingNLG(domain=DOMAIN).generate(
        "utter_ask_instead", tracker, "rest"))
    assert message is not None
    return message


def payloads(message: dict[str, Any]) -> list[str]:
    return [str(b["payload"]) for b in message.get("buttons", [])]


def test_unsure_between_questions_offers_the_likeliest_two_in_order() -> None:
    message = answer(unsure("can they say no to it", [
        ("nrm_consent", 0.28), ("nrm_who_can_refer", 0.22), ("greet", 0.01)]))
    assert message["text"].startswith("I'm not sure I understood. Did you mean one of these?")
    assert payloads(message) == ["/nrm_consent", "/nrm_who_can_refer", "/talk_to_person",
                                 "/restart"]
    titles = [b["title"] for b in message["buttons"]]
    assert titles[:2] == ["Do they need to agree to a referral?", "Who can refer?"]


def test_at_most_three_meanings_are_offered() -> None:
    message = answer(unsure("nrm stuff", [
        ("ask_nrm", 0.25), ("nrm_how_to_refer", 0.2), ("recovery_period", 0.15),
        ("victim_support", 0.1)]))
    assert payloads(message)[:3] == ["/ask_nrm", "/nrm_how_to_refer", "/recovery_period"]
    assert len(payloads(message)) == 5


def test_plainly_a_story_starts_the_triage_with_who_it_is_about() -> None:
    story = ("theres a lad at the car wash near my mums, always there late, never seems to go "
             "home and a van picks them all up")
    message = answer(unsure(story, [("report_other", 0.29), ("ask_signs", 0.2)]))
    assert message["text"].startswith("Can you tell me who this is about?")
    assert payloads(message) == WHO


def test_a_short_message_mostly_read_as_a_story_is_a_story_too() -> None:
    message = answer(unsure("my cousin work there", [
        ("report_other", 0.25), ("report_self", 0.2), ("ask_signs", 0.1)]))
    assert payloads(message) == WHO


def test_nothing_likely_asks_who_it_is_about() -> None:
    message = answer(unsure("purple elephants", [("practitioner", 0.12), ("thanks", 0.07)]))
    assert payloads(message) == WHO


def test_a_likely_reading_with_no_button_does_not_make_an_unlikely_one_offered() -> None:
    message = answer(unsure("the green one", [("safe_now", 0.22), ("nrm_what_happens_next", 0.11)]))
    assert payloads(message) == WHO


def test_no_meaning_with_a_button_asks_who_it_is_about() -> None:
    message = answer(unsure("hmm ok", [("greet", 0.2), ("thanks", 0.2), ("goodbye", 0.1)]))
    assert payloads(message) == WHO


@pytest.mark.parametrize("ranking", [
    [("nrm_consent", 0.28), ("ask_nrm", 0.2)],
    [("report_other", 0.29), ("report_self", 0.2)],
    [("greet", 0.2)],
])
def test_every_answer_keeps_999_and_the_helpline(ranking: list[tuple[str, float]]) -> None:
    text = answer(unsure("something", ranking))["text"]
    assert "In an emergency call 999." in text and "08000 121 700" in text
