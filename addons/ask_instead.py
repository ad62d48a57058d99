"""When the bot is unsure what a message means, it asks instead of ending the exchange.

The NLG (addons/nlg.py) fills the response `utter_ask_instead` from the classifier's ranking
of the last message, in the Rasa process, so it works with the action server down:

- a message that is plainly someone's story (the story intents hold most of the ranking, or
  a long message whose likeliest reading is a story) gets `utter_ask_instead_story`: "Can you
  tell me who this is about?" with the triage's buttons, which starts the triage;
- otherwise the likeliest meanings, as buttons: the buttons of `utter_ask_instead` whose
  payload is one of the MAX_MEANINGS likeliest intents, in the classifier's order, then its
  last buttons ("Talk to a person", "Start again"), which are always kept;
- and when no reading is likely enough to offer, that question too.

Both texts keep 999 and the helpline. The button titles live in domain.yml with the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ASK_INSTEAD = "utter_ask_instead"
ASK_WHO = "utter_ask_instead_story"
STORY_INTENTS = frozenset({"report_self", "report_other", "report_child", "young_person",
                           "practitioner"})
# Readings that are no meaning to offer.
NOT_MEANINGS = frozenset({"nlu_fallback", "other_language", "language_unsure"})
MAX_MEANINGS = 3
# The likeliest reading that has a button must reach this for meanings to be offered at all:
# below it the message is most likely nothing the bot knows ("purple elephants" read as
# practitioner at 0.12), and "Who is this about?" is the better question. A judgement from a
# handful of messages under the fallback's threshold (config.yml), not a measurement.
MIN_TOP_MEANING = 0.2
# Below this, a reading is noise, not a meaning worth a button.
MIN_MEANING_CONFIDENCE = 0.05
# A story holds at least this share of the ranking...
STORY_SHARE = 0.5
# ... or is at least this long and its likeliest reading is a story.
STORY_WORDS = 12
# Buttons of utter_ask_instead kept whatever the ranking: a person, and starting again.
ALWAYS_KEPT = ("/talk_to_person", "/restart")


def readings(ranking: Sequence[dict[str, Any]]) -> list[tuple[str, float]]:
    """The classifier's readings, likeliest first, without the fallback's own entry."""
    found = [(str(r.get("name")), float(r.get("confidence") or 0.0)) for r in ranking]
    return sorted([r for r in found if r[0] not in NOT_MEANINGS], key=lambda r: -r[1])


def is_story(text: str, ranking: Sequence[dict[str, Any]]) -> bool:
    found = readings(ranking)
    if not found:
        return False
    total = sum(confidence for _, confidence in found) or 1.0
    share = sum(confidence for name, confidence in found if name in STORY_INTENTS) / total
    return share >= STORY_SHARE or (
        len(text.split()) >= STORY_WORDS and found[0][0] in STORY_INTENTS)


def meanings(ranking: Sequence[dict[str, Any]], offered: Sequence[str]) -> list[str]:
    """The likeliest intents that have a button, at most MAX_MEANINGS: the first at
    MIN_TOP_MEANING or more, the others at MIN_MEANING_CONFIDENCE or more."""
    chosen: list[str] = []
    for name, confidence in readings(ranking):
        if name not in offered:
            continue
        if confidence < (MIN_MEANING_CONFIDENCE if chosen else MIN_TOP_MEANING):
            break
        chosen.append(name)
        if len(chosen) == MAX_MEANINGS:
            break
    return chosen


def meaning_buttons(buttons: Sequence[dict[str, Any]],
                    ranking: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The buttons for the likeliest meanings, in that order, then the ones always kept; no
    meaning buttons when none of the readings has one."""
    by_intent = {str(b.get("payload", "")).lstrip("/"): b for b in buttons
                 if b.get("payload") not in ALWAYS_KEPT}
    chosen = meanings(ranking, list(by_intent))
    return [by_intent[name] for name in chosen] + [
        b for b in buttons if b.get("payload") in ALWAYS_KEPT]
