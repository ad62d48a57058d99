"""A story with a question in it: the story is routed and the question answered.

"my neighbour's cleaner never leaves the house and looks scared, can I report it anonymously?"
is read as a story (report_other): the triage starts, with the danger question first, and
before this the question was never answered. The classifier reads the whole message as one
thing; the question's intent is rarely even second in its ranking (measured on story and
question pairs of the development set tests/nlu_dev/: the right question was the likeliest
question intent of the ranking for 38 of 104 pairs read as a story).

So the channel (addons/channel.py) reads the question on its own: when a message read as a
story has a question after at least MIN_STORY_WORDS words (a sentence ending in "?", or a
clause that opens as a question does: "..., can I", "... how do we"), and that question alone
is read as one of the questions the bot answers, at MIN_QUESTION_CONFIDENCE or more, the
message is taken as two turns: the whole message first (the triage starts, asking about
danger first, as the conversation design requires for a story), then the question, which the
rules answer during the triage before asking again. Danger is never split: a message read as
`emergency` is not a story.

Measured on 200 story and question pairs of the development set (joined by ". ", ", " or a
space), with the model of 2026-12-02: 146 were read as a story; in 110 of them a question was
found, and read alone, at MIN_QUESTION_CONFIDENCE 0.6, as the right question in 83, a wrong
one in none. None of the 50 development stories without a second question was split (at 0.4,
one was). Only messages with a question beside more words pay for the two extra readings.

When the whole message is unclear (under the fallback threshold: the story and the question
pull its reading apart), the story is the message without its question, if that alone reads as
a story. In the held-out and development sets with the model of 2026-12-03, 6 unclear messages
had a question beside more words; 1 was split, as a story (report_other) and the signs
question; a housing officer's story with a consent question (tests/conversations/
understanding.yml) had got only "who is this about?".
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME

from addons.ask_instead import STORY_INTENTS

# The questions the bot answers in the triage (data/rules/answers.yml, navigation.yml).
QUESTION_INTENTS = frozenset({
    "nrm_who_can_refer", "nrm_consent", "duty_to_notify", "nrm_how_to_refer",
    "nrm_what_happens_next", "recovery_period", "victim_support", "report_anonymously",
    "labour_exploitation", "ask_nrm", "ask_signs", "ask_resources",
})
MIN_STORY_WORDS = 4
MIN_QUESTION_CONFIDENCE = 0.6

SENTENCE = re.compile(r"[^.!?]+[.!?]*")
# How a question opens: a modal or "wh" word, and who it asks about.
QUESTION_OPENING = r"""(?:can|could|do|does|should|will|would|is|are|am|must|may)\s+
      (?:i|we|you|he|she|they|it|someone|somebody|a|the|my|our|this|that|there)\b
    | (?:how|what|whats|what's|who|where|when|which)\b"""
# A sentence that opens as a question.
OPENS_AS_QUESTION = re.compile(QUESTION_OPENING, re.IGNORECASE | re.VERBOSE)
# A question inside a sentence, after a comma, dash or "and/but/so" ("..., is that allowed",
# "... so what happens now") ...
SEPARATED = re.compile(r"(?:[,;:\-–]\s*|\b(?:and|but|so)\s+)(?P<q>" + QUESTION_OPENING + ")",
                       re.IGNORECASE | re.VERBOSE)
# ... or anywhere, a modal with "I", "we" or "you" ("... for no pay can i refer him").
MODAL = re.compile(r"\b(?P<q>(?:can|could|do|does|should|must|may)\s+(?:i|we|you)\b)",
                   re.IGNORECASE)


def _openings(sentence: str) -> list[int]:
    found = {m.start("q") for m in SEPARATED.finditer(sentence)}
    found |= {m.start("q") for m in MODAL.finditer(sentence)}
    return sorted(i for i in found if i > 0)


def question_part(text: str) -> str | None:
    """The question asked beside a story, or None when there is none or the rest of the
    message is too short to be a story."""
    total = len(text.split())
    words_before = 0
    for match in SENTENCE.finditer(text):
        sentence = match.group(0).strip()
        if not sentence:
            continue
        length = len(sentence.split())
        if words_before >= MIN_STORY_WORDS and OPENS_AS_QUESTION.match(sentence):
            return sentence
        for opening in _openings(sentence):
            before = len(sentence[:opening].split())
            if words_before + before >= MIN_STORY_WORDS:
                return sentence[opening:].strip()
        if sentence.endswith("?") and total - length >= MIN_STORY_WORDS:
            return sentence
        words_before += length
    return None


Parse = Callable[[str], Awaitable[dict[str, Any]]]


def _intent(parsed: dict[str, Any]) -> tuple[str, float]:
    intent = parsed.get("intent") or {}
    return str(intent.get("name")), float(intent.get("confidence") or 0.0)


def story_part(text: str, question: str) -> str:
    """The message without its question, and without the comma or "and" that joined them."""
    rest = text.replace(question, " ", 1)
    rest = re.sub(r"[\s,;:\-–]*\b(?:and|but|so)?[\s,;:\-–]*$", "", rest, flags=re.IGNORECASE)
    return " ".join(rest.split())


async def turns(text: str, parse: Parse) -> tuple[str, ...]:
    """The turns a message is taken as: itself alone; or, when a question the bot answers
    is beside a story, the story and then the question. When the whole message is unclear
    (read as nlu_fallback: the story and the question pull apart), the story is the message
    without its question, provided that alone reads as a story."""
    question = question_part(text)
    if question is None:
        return (text,)
    whole, _ = _intent(await parse(text))
    if whole in STORY_INTENTS:
        first = text
    elif whole == DEFAULT_NLU_FALLBACK_INTENT_NAME:
        first = story_part(text, question)
        if len(first.split()) < MIN_STORY_WORDS or _intent(await parse(first))[0] \
                not in STORY_INTENTS:
            return (text,)
    else:
        return (text,)
    intent, confidence = _intent(await parse(question))
    if intent in QUESTION_INTENTS and confidence >= MIN_QUESTION_CONFIDENCE:
        return (first, question)
    return (text,)
