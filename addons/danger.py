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
from collections.abc import Iterable

from addons.alternation import WordAlternation

DANGER = re.compile(
    r"""
    \b(guns?|knife|knives|machetes?|acid|weapons?|blades?|shotguns?|pistols?|(baseball\s+)?bats?|crowbars?)\b
    | \b(locked|shut|trapped)\s+(?:(?:us|me|him|her|them)\s+)?(in|inside|up)\b
    | \b(can'?t|cannot)\s+get\s+out\b | \bno\s+way\s+out\b
    | \b(kill|burn|shoot|stab|strangle|choke|cut|rape|drown|slit)(?:s|ing)?
      \s+(me|us|him|her|them|my)\b
    | \bbreak\s+(my|your|his|her|their)\s+(legs?|arms?|neck|fingers?)\b
    | \b(hitting|beating|punching|kicking|stabbing|strangling|choking|attacking|raping)
      \s+(me|us|him|her|them|my|a|the|someone)\b
    | \b(just|now)\s+(hit|punched|kicked|stabbed|attacked|beat|beaten)\b
    | \b(looking\s+for|chasing|following|coming\s+(for|after|to\s+get))\s+(me|us|him|her)\b
    # Held, taken or tied up.
    | \b(held|kept)\s+(captive|hostage|prisoner)\b | \bheld\s+in\s+(a|the)\b
    | \b(hold|holding|held|keep|keeping|kept|lock|locking)\s+(me|us|her|him|them)\s+
      (here\s+|in\s+(a|the|this)\s+(\w+\s+){1,3})?since\s+(yesterday|last\s+night|this\s+morning|today)\b
    | \b(abducted|kidnapp?ed|kidnapp?ing|snatched)\b
    | \b(grabbed|took|taken|dragged|pushed|bundled)\b[^.!?]{0,40}\b(into|in)\s+(a|the|their)\s+
      (van|car|vehicle|boot|lorry)\b
    | \b(grabbed|took|snatched|dragged)\b[^.!?]{0,40}\bdrove\s+(off|away)\b
    | \b(forcing|shoving|pulling|pushing|dragging)\s+[^.!?]{0,25}?\b(into|in)\s+
      (the\s+back\s+of\s+)?(a|the|their|his)\s+
      (van|car|vehicle|boot|lorry)\b
    | \bbeing\s+(taken|dragged|snatched)\s*(away|now|right\s+now)?\s*([.!?]|$)
    | \b(leaving|leave|out\s+of)\s+the\s+country\s+(tonight|tomorrow|today|in\s+the\s+morning)\b
    | \b(tie|tied|tying)\s+(up\s+)?(my|our|his|her|their|me|us|him|them)\b
    | \b(chained|handcuffed|bolted|padlocked|boarded\s+up)\b
    | \b(no|without)\s+(food|water)\s+(for|since)\b
    # Saying it outright: in danger, someone will die, a cry for help.
    | \b(i'?m|i\s+am|we'?re|we\s+are|he'?s|she'?s|they'?re|he\s+is|she\s+is|they\s+are)
      \s+in\s+danger\b
    | \b(?!(?:phone|battery|laptop|car|plant|is|are)\b)\w+\s+(is\s+|are\s+)?
      (going\s+to|gonna|will|about\s+to)\s+die\b
    | \b(?!(?:phone|battery|laptop|car|plant)\b)\w+(\s+is|\s+are|'s|'re)\s+dying\b
    | \b(need|call|get|send)\s+(the\s+)?police\s+
      (now|quick|quickly|here|asap|urgently|right\s+now)\b
    | ^\W*(danger|sos|mayday)\W*$ | \bsos\b | \bsave\s+(me|us)\b(?!\s+(time|money|a\s+seat))
    # Harm to oneself.
    | \b(kill|hurt)\s+myself\b | \bsuicid\w* | \bend\s+(my\s+life|it\s+all)\b
    | \b(going|want|about)\s+to\s+jump\b | \bwill\s+jump\b | \bjump\s+off\b
    | \b(can'?t|cannot)\s+(do\s+this|go\s+on|take\s+(it|this))\s+any\s*more\b
    | \b(take|taking|swallow\w*)\s+(all\s+)?(the|my|these|those)\s+pills\b
    # Medical emergencies.
    | \b((not|isn'?t|is\s+not|aren'?t|stopped)\s+breathing|bleeding|unconscious|
      not\s+waking\s+up|overdos\w*|foaming|collapsed|fainted|seizure|fitting|having\s+a\s+fit|
      (can'?t|cannot)\s+breathe?|turning\s+blue|drowning|(can'?t|cannot)\s+swim)\b
    | \b(fell|fallen|falling)\s+(off|from)\s+(the\s+|a\s+)?(roof|scaffold\w*|ladder|building|window)
    | \b(need|call|get|send)\s+(an\s+|a\s+)?ambulance\b
    | \b(heart\s+attack|chest\s+(pain|hurts)
      |(packets?|packages?|bags?)\s+(has\s+|have\s+)?burst)\b
    # Someone there now: back, outside, coming, watching, found them.
    | \b(they'?re|they\s+are|they\s+r|he'?s|he\s+is|hes|she'?s|she\s+is|someone\s+is)\s+
      ((here|back)(?=\s*(now|again)?\s*([.!?,]|$|\band\b|\bwith\b))|outside|at\s+the\s+door
       |on\s+(his|their|her)\s+way|coming\s+(up|round|back|now)|coming(?=\s*([.!?,]|$))
       |waiting\s+(outside|for\s+me)
       |watching\s+(me|us|the\s+house))
    | \bthey\s+(found|caught)\s+(me|us)\b
    | \b(they'?re|they\s+are|he'?s|he\s+is|hes|she'?s|she\s+is)\s+still\s+(here|outside)
      \s*([.!?,]|$|\band\b)
    | \b(they|he|she|gang|someone|somebody)(\s+have|\s+has|'?ve)?\s+(found|find)\s+(out\s+)?where\s+
      (i|we|she|he)\s+(live|lives|am|are|is|stay|stays|sleep)\b
    | \b(banging|hammering|pounding|kicking|knocking)\s+(on|at)\s+(the|my|our)\s+(front\s+|back\s+)?
      (door|window)s?\b
    # The people who brought or keep someone, at the door or outside the house.
    | \bwho\s+(brought|took|trafficked|sold|keep|kept|hold|held|own|owned)\s+(me|us|her|him)\b
      (?!\s+in\b)  # not 'took me in'
      [^.!?]{0,40}?\b(are|is|r)\s+(at|outside)\s+(the|my|our)\s+(front\s+|back\s+)?
      (door|window|house|flat)\b
    | \b(i'?m|i\s+am|im|we'?re|we\s+are|me)\s+(not|no)\s+safe\b | ^\W*not\s+safe\W*$
    | \bnot\s+(going\s+to\s+|gonna\s+)?make\s+it\s+(out|through)\b
    | \bhiding\s+(from|in|under|behind)\b
    | \b(going\s+to|gonna|will|'ll)\s+(hurt|kill|stab|rape)\s+
      (me|us|her|him|the\s+(kid|baby|child|little\s+one))\b
    | \b(going\s+to|gonna)\s+do\s+something\s+to\s+(her|him|me|us)\b
    | \b(want|wants|wanna|trying|tries)\s+(to\s+)?(hurt|kill|stab|beat|rape|cut)\s+
      (me|us|him|her|them|my)\b
    | \bby\s+the\s+throat\b | \b(has|got)\s+my\s+throat\b
    | \bmake\s+(me|her|him|us)\s+disappear\b
    # Taken, sold or collected.
    | \b(taken|took|grabbed)\s+my\s+(daughter|son|child|kid|baby|sister|brother)\b
    | \bsold\s+(me|us|her|him)\b
    | \b(coming|come)\s+to\s+(collect|take|get)\s+(me|us|her|him)\b
    | \b(coming|come)\s+up\s+the\s+(road|street|stairs)\b
    | \b(take|taking|move|moving|collect|collecting)\s+(me|us|her|him|them)\s+
      (away|abroad|tonight|tomorrow)\b
    # Hurt and not moving, other injuries and illness left untreated.
    | \b(won'?t|wont|will\s+not|can'?t|cannot|not|isn'?t|hasn'?t|hasnt)\s+
      (wake|waking|moving|moved|responding)\b
    | \b(crushed|glassed|gunshots?|shots\s+fired|shank|axe|insulin|drugged)\b
    | \bcaught\s+in\s+(the|a)\s+machine\w*\b | \bhigh\s+(fever|temperature)\b
    | \b(arm|leg|wrist|nose|jaw|ribs?|hand|fingers?|ankle|collarbone|cheekbone|skull)\s+
      (is|are|'s|might\s+be|may\s+be|looks?)\s+(broken|broke|fractured|snapped)\b
    | \b(broke|broken|snapped|fractured)\s+(my|his|her|their)\s+
      (arm|leg|wrist|nose|jaw|ribs?|hand|fingers?|ankle)\b
    | \b(can'?t|cannot)\s+move\s+(my|his|her)\b
    # A cry for help and nothing else.
    | ^\W*(help\s+(me|us)|come\s+quick(ly)?|(please|pls|plz)?\s*hurry|send\s+(someone|help|police))
      \W*$
    # Fire.
    | \b(petrol|set\s+(fire|light)\s+to|on\s+fire)\b
    | \bthreat\w*\s+to\s+(kill|burn|stab|shoot|light|set\s+fire)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
# The same matches, found four times faster (addons/alternation.py).
DANGER_MATCHES = WordAlternation(DANGER)


# The words of the patterns above, for the spelling normaliser (addons/spelling.py): a typo of
# one ("wakign", "bleding") is read as it, even when no training example has the word.
DANGER_WORDS = frozenset({
    "knife", "knives", "machete", "weapon", "shotgun", "pistol", "crowbar", "locked", "trapped",
    "inside", "kill", "killing", "burn", "burning", "shoot", "shooting", "stab", "stabbing",
    "strangle", "strangling", "choke", "choking", "hitting", "beating", "punching", "kicking",
    "attacking", "raping", "punched", "kicked", "stabbed", "attacked", "beaten", "chasing",
    "following", "captive", "hostage", "prisoner", "abducted", "kidnapped", "snatched",
    "dragged", "bundled", "chained", "handcuffed", "bolted", "padlocked", "danger", "dying",
    "suicide", "suicidal", "myself", "pills", "swallowed", "breathing", "breathe", "bleeding",
    "unconscious", "waking", "overdose", "overdosed", "foaming", "collapsed", "fainted",
    "seizure", "fitting", "drowning", "ambulance", "petrol", "threatening", "threatened",
})

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
SUBJECT_FIRST = re.compile(r"(they|he|she|someone|we|i)\b", re.IGNORECASE)
THINKING = re.compile(r"\b(think|thinks|believe|know|knows|sure|reckon|suppose|say|says|said)\b",
                      re.IGNORECASE)

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
    | \b(i'?m|i\s+am|we'?re|we\s+are|she'?s|he'?s|they'?re)\s+safe\s+now\b
    | \b(hypothetically|what\s+if|what\s+(should|would|do|can)\s+(i|we|you)\s+do\s+if)\b
    | \bif\s+(someone|somebody|a\s+\w+)\s+(is|was|were)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Violence told as a habit, what happens whenever someone does or does not do something:
# the person's story, with the danger question first on its route (docs/nlu-labelling.md,
# rule 1). Danger words of their own in the message still win (signals_danger).
HABIT = re.compile(
    r"""
    (?<!will\s)(?<!ll\s)(?<!to\s)(?<!gonna\s)  # a threat ("will hurt us if...") is no habit
    \b(hits?|beats?|slaps?|punch(es)?|kicks?|hurts?)\s+(me|us|him|her|them)\b
    [^.!?]{0,30}?\b(when(ever)?|if|every\s+time)\s+
    (im\s+(too\s+)?slow
     |(i|we|he|she|they)\s+
      (don'?t|do\s+not|doesn'?t|didn'?t|refuse|complain|say\s+no|ask|talk\s+back|
       (am|'?m|are|'?re|is)\s+(too\s+)?slow|make\s+(a\s+)?mistakes?))\b
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Harm told as the past: a danger word in the same clause as one of these is not danger now
# ("I was locked in a flat in 2021"), and neither is a message the classifier alone took for
# danger ("he used to beat me but I left").
PAST = re.compile(
    r"\b(used\s+to|years?\s+ago|months\s+ago|last\s+(year|month|summer|winter)|in\s+the\s+past"
    r"|ages\s+ago|in\s+(19|20)\d\d|back\s+then|when\s+i\s+was\s+(a\s+)?(child|kid|young|little))\b",
    re.IGNORECASE,
)


def _negated(text: str, start: int) -> bool:
    """A negator among the few words before `start`, in the same clause. A match that
    starts with its own subject ("they are outside") starts a clause of its own, typed
    without punctuation or not: a negator before it counts only through a verb of thinking
    ("i don't think he's back"), not another verb ("i dont want go they are outside")."""
    before = text[:start]
    ends = list(CLAUSE_END.finditer(before))
    clause = before[ends[-1].end():] if ends else before
    window = " ".join(clause.split()[-NEGATION_WINDOW_WORDS:])
    negator = NEGATOR.search(window)
    if negator is None:
        return False
    if SUBJECT_FIRST.match(text, start):
        return THINKING.search(window, negator.start()) is not None
    return True


def _in_the_past(text: str, start: int, end: int) -> bool:
    """A past-time phrase in the clause of the match, before or after it."""
    before = text[:start]
    ends = list(CLAUSE_END.finditer(before))
    begin = ends[-1].end() if ends else 0
    after = CLAUSE_END.search(text, end)
    return PAST.search(text[begin:after.start() if after else len(text)]) is not None


def _any_live(text: str, matches: Iterable[re.Match[str]]) -> bool:
    return any(not _negated(text, match.start()) and not _in_the_past(text, *match.span())
               for match in matches)


def signals_danger(text: str) -> bool:
    """Danger words that are not taken back or put in the past in their clause."""
    return _any_live(text, DANGER_MATCHES.finditer(text))


def says_no_danger(text: str) -> bool:
    """The message says nobody is in danger now, asks what if, tells of the past or of a
    habit ("they hit me when I don't work"), or takes back every danger word it has ("he
    doesn't have a knife, he just shouts")."""
    if (NO_DANGER.search(text) is not None or PAST.search(text) is not None
            or HABIT.search(text) is not None):
        return True
    matches = list(DANGER_MATCHES.finditer(text))
    return bool(matches) and not _any_live(text, matches)
