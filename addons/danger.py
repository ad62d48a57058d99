"""Words that mean someone is in danger now, whatever else a message says.

The intent classifier learns danger from many examples, but a single missed message is the
worst thing this bot can do. These patterns are a backstop: a message that names a weapon,
someone locked in, a threat to kill or hurt, violence happening, or a medical emergency is
treated as danger (the emergency card: 999 first, then "I'm safe now"). A false alarm costs
one tap; a miss could cost a life. Patterns that also describe being kept, not in danger now
("they won't let me leave"), are deliberately left out: those are triage questions.
"""

from __future__ import annotations

import re

DANGER = re.compile(
    r"""
    \b(guns?|knife|knives|machetes?|acid|weapons?|blades?|shotguns?|pistols?|(baseball\s+)?bat)\b
    | \b(locked|shut|trapped)\s+(?:(?:us|me|him|her|them)\s+)?(in|inside|up)\b
    | \b(can'?t|cannot)\s+get\s+out\b
    | \b(kill|burn|shoot|stab|strangle|choke)(?:s|ing)?\s+(me|us|him|her|them|my)\b
    | \bbreak\s+(my|your|his|her|their)\s+(legs?|arms?|neck|fingers?)\b
    | \b(hitting|beating|punching|kicking|stabbing|strangling|choking|attacking|raping)
      \s+(me|us|him|her|them|my|a|the|someone)\b
    | \b(just|now)\s+(hit|punched|kicked|stabbed|attacked|beat|beaten)\b
    | \b(looking\s+for|chasing|following|coming\s+(for|after))\s+(me|us)\b
    | \b(not\s+breathing|bleeding|unconscious|not\s+waking\s+up)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)


# Words that take danger back within the clause before a danger word: "he doesn't have a
# knife", "nobody is bleeding", "no weapons". Only the few words before the match count, and
# only in its own clause (a comma, full stop or "but" ends one), so "no one is hurt but he has
# a knife" is still danger.
NEGATOR = re.compile(
    r"\b(no|not|never|nobody|noone|without|isn'?t|wasn'?t|aren'?t|doesn'?t|don'?t|didn'?t|"
    r"hasn'?t|haven'?t|hadn'?t|no\s+one)\b[^.,;:!?]*$",
    re.IGNORECASE,
)
CLAUSE_END = re.compile(r"[.,;:!?]|\bbut\b|\band\b", re.IGNORECASE)
NEGATION_WINDOW_WORDS = 4

# A message that says outright that nobody is in danger now. Its story is a story: when the
# classifier reads it as danger, the next reading stands (DangerGate), unless danger words of
# their own (above) are in it too.
NO_DANGER = re.compile(
    r"""
    \b(no\s*one|nobody|noone|none\s+of\s+us|none\s+of\s+them)\s+
       (is|s|'s|are|seems?|appears?)?\s*(in\s+(any\s+)?(immediate\s+)?danger|hurt|at\s+risk)\b
    | \bnot\s+(urgent|an\s+emergency|(in\s+)?(any\s+)?(immediate\s+)?danger)\b
    | \bno\s+(immediate\s+)?danger\b
    | \bnot\s+in\s+danger\b
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _negated(text: str, start: int) -> bool:
    """A negator among the few words before `start`, in the same clause."""
    before = text[:start]
    ends = list(CLAUSE_END.finditer(before))
    clause = before[ends[-1].end():] if ends else before
    window = " ".join(clause.split()[-NEGATION_WINDOW_WORDS:])
    return NEGATOR.search(window) is not None


def signals_danger(text: str) -> bool:
    """Danger words that are not taken back in their clause."""
    return any(not _negated(text, match.start()) for match in DANGER.finditer(text))


def says_no_danger(text: str) -> bool:
    return NO_DANGER.search(text) is not None
