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


def signals_danger(text: str) -> bool:
    return DANGER.search(text) is not None
