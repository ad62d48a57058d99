"""A question beside a story (addons/two_things.py): which part is the question, and when the
message is taken as two turns. The model's readings are given here; the conversations in
tests/conversations/understanding.yml check the same against the trained model."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.domain import Domain

from addons.channel import TriageRestInput
from addons.two_things import question_part, story_part, turns


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("my neighbours cleaner never leaves the house and looks scared, can I report it "
         "anonymously?", "can I report it anonymously?"),
        ("my friend works 16 hours a day for no pay can i refer him without his consent",
         "can i refer him without his consent"),
        ("a man at the car wash looks scared. what are the signs of trafficking?",
         "what are the signs of trafficking?"),
        ("can I report anonymously? there is a house on my street with lots of men",
         "can I report anonymously?"),
        ("my sister works in a nail bar and they keep her money. how do i refer her",
         "how do i refer her"),
    ],
)
def test_the_question_beside_a_story_is_found(text: str, question: str) -> None:
    assert question_part(text) == question


@pytest.mark.parametrize(
    "text",
    ["what is the nrm", "im a nurse, who can refer", "can i stay anonymous?",
     "the man who runs the car wash keeps their passports",
     "i dont know what to do, my boss has my passport"],
)
def test_a_question_alone_or_a_story_alone_is_not_split(text: str) -> None:
    assert question_part(text) is None


def _reader(readings: dict[str, tuple[str, float]]) -> Any:
    asked: list[str] = []

    async def parse(text: str) -> dict[str, Any]:
        asked.append(text)
        name, confidence = readings[text]
        return {"intent": {"name": name, "confidence": confidence}}

    parse.asked = asked  # type: ignore[attr-defined]
    return parse


STORY = "theres a girl at the chip shop who never goes home, can i tell someone anonymously?"
QUESTION = "can i tell someone anonymously?"
STORY_ALONE = "theres a girl at the chip shop who never goes home"


def test_a_story_with_a_question_the_bot_answers_is_taken_as_two_turns() -> None:
    parse = _reader({STORY: ("report_other", 0.9), QUESTION: ("report_anonymously", 0.95)})
    assert asyncio.run(turns(STORY, parse)) == (STORY, QUESTION)


def test_the_story_without_its_question_is_what_is_left_of_the_message() -> None:
    assert story_part(STORY, QUESTION) == STORY_ALONE
    assert story_part("my boss has my passport and can i refer myself", "can i refer myself") \
        == "my boss has my passport"
    house = "there is a house on my street with lots of men"
    assert story_part(f"can I report anonymously? {house}", "can I report anonymously?") == house


def test_an_unclear_message_whose_story_and_question_are_clear_alone_is_both() -> None:
    # The story and the question pull the whole message apart (the fallback): the story is
    # taken without its question, then the question.
    parse = _reader({STORY: ("nlu_fallback", 0.35), STORY_ALONE: ("report_other", 0.8),
                     QUESTION: ("report_anonymously", 0.95)})
    assert asyncio.run(turns(STORY, parse)) == (STORY_ALONE, QUESTION)


@pytest.mark.parametrize("alone", [("nlu_fallback", 0.35), ("ask_signs", 0.9),
                                   ("emergency", 1.0)])
def test_an_unclear_message_without_a_clear_story_stays_one_turn(alone: tuple[str, float]) -> None:
    parse = _reader({STORY: ("nlu_fallback", 0.35), STORY_ALONE: alone,
                     QUESTION: ("report_anonymously", 0.95)})
    assert asyncio.run(turns(STORY, parse)) == (STORY,)


@pytest.mark.parametrize(
    ("whole", "question"),
    [
        (("emergency", 1.0), ("report_anonymously", 0.95)),  # danger is never split
        (("report_anonymously", 0.8), ("report_anonymously", 0.95)),  # not a story
        (("report_other", 0.9), ("report_anonymously", 0.4)),  # the question is unclear
        (("report_other", 0.9), ("greet", 0.99)),  # not a question the bot answers
    ],
)
def test_otherwise_the_message_is_one_turn(whole: tuple[str, float],
                                           question: tuple[str, float]) -> None:
    parse = _reader({STORY: whole, QUESTION: question})
    assert asyncio.run(turns(STORY, parse)) == (STORY,)


def test_a_message_without_a_question_is_read_once_by_the_bot_only() -> None:
    parse = _reader({})
    text = "my boss has my passport and i work every day"
    assert asyncio.run(turns(text, parse)) == (text,)
    assert parse.asked == []


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        ({STORY: ("report_other", 0.9), QUESTION: ("report_anonymously", 0.95)},
         [STORY, QUESTION]),
        ({STORY: ("report_other", 0.9), QUESTION: ("greet", 0.99)}, [STORY]),
    ],
)
def test_the_channel_hands_rasa_each_turn_with_the_reading_already_made(
        readings: dict[str, tuple[str, float]], expected: list[str]) -> None:
    # Reading the whole message to find its question must not make Rasa read it again.
    parse = _reader(readings)
    handed: list[tuple[str, Any]] = []

    async def on_new_message(message: UserMessage) -> None:
        handed.append((message.text, message.parse_data))
        assert message.output_channel is not None
        await message.output_channel.send_text_message(message.sender_id or "", "ok")

    domain = Domain.from_dict({"responses": {}})
    asyncio.run(TriageRestInput().answer(on_new_message, domain, STORY, "s", parse))
    assert [text for text, _ in handed] == expected
    assert [data["intent"]["name"] for _, data in handed] == [readings[t][0] for t in expected]
    assert sorted(parse.asked) == sorted(set(parse.asked))  # no text read twice
