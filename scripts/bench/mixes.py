"""The conversations the load client plays: this bot's realistic mix, and the `rasa init`
bot's own kind of conversation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conversation:
    name: str
    weight: float
    turns: tuple[tuple[str, str], ...]  # (kind, message)


LONG_STORY = (
    "I don't really know where to start with this. I came here last year because a man in my "
    "home town said there was work in a factory and a room to live in. When we arrived they "
    "took our passports to 'keep them safe' and said we owed them for the travel and the visa. "
    "We work six or seven days a week, mostly twelve hour shifts, and most of the money goes "
    "back to them for rent and the debt, which never gets smaller. Eight of us sleep in one "
    "house and a driver takes us to work and back. I have a phone but they check it sometimes. "
    "I am scared that if I say anything they will hurt my family back home. Is this normal here?"
)
PASTE = (LONG_STORY + " ") * 3  # a long paste: the channel cuts it to 1000 characters

TRIAGE_MIX: tuple[Conversation, ...] = (
    Conversation("buttons: me, no danger, resources", 3, (
        ("greeting", "hi"), ("who", "/report_self"), ("danger_answer", "/deny"),
        ("resources", "/ask_resources"), ("resources", "/resource_care_pathways"),
        ("resources", "/more_resources"))),
    Conversation("typed: someone else, no danger, a question", 3, (
        ("greeting", "hello"), ("who", "i'm worried about someone"), ("danger_answer", "no"),
        ("quick_question", "what happens after a referral"))),
    Conversation("free text first, not sure, signs", 3, (
        ("free_text_medium", "i think the lads at the car wash are being kept there, they "
                             "never seem to go home and someone drives them everywhere"),
        ("danger_answer", "not sure"), ("quick_question", "what are the signs"))),
    Conversation("danger message, then safe", 2, (
        ("danger_text", "he's locked me in the room and taken my phone, please help"),
        ("danger_answer", "/safe_now"))),
    Conversation("danger in the middle of the triage", 1, (
        ("greeting", "hi"), ("who", "/report_other"),
        ("danger_text", "he's back and he's got a knife"))),
    Conversation("practitioner questions", 2, (
        ("free_text_medium", "i'm a nurse and i think one of my patients is being trafficked"),
        ("danger_answer", "/deny"), ("quick_question", "DtN?"),
        ("quick_question", "do i need their consent to refer them"),
        ("quick_question", "how long is the recovery period"))),
    Conversation("a child, not sure", 1, (
        ("greeting", "good morning"), ("who", "/report_child"), ("danger_answer", "/unsure"),
        ("quick_question", "/ask_signs"))),
    Conversation("a long story", 2, (
        ("free_text_long", LONG_STORY), ("danger_answer", "/deny"), ("other", "thanks"),
        ("other", "bye"))),
    Conversation("quick questions only", 2, (
        ("quick_question", "what does nrm mean"),
        ("quick_question", "can i report it without giving my name"),
        ("quick_question", "RG decision timescale"),
        ("quick_question", "is it exploitation if my employer wont pay me"))),
    Conversation("young person", 1, (
        ("free_text_short", "I'm 15 and they make me work"), ("danger_answer", "no"),
        ("other", "/talk_to_person"))),
    Conversation("nation and navigation", 1, (
        ("greeting", "hi"), ("free_text_short", "I'm in Glasgow"),
        ("quick_question", "how long is the recovery period"), ("other", "start again"),
        ("other", "menu"))),
    Conversation("a long paste", 0.5, (("free_text_paste", PASTE), ("danger_answer", "no"))),
    Conversation("out of scope", 1, (
        ("free_text_short", "can you order me a pizza"), ("other", "hmm"), ("other", "bye"))),
)

# The `rasa init` bot's own kind of conversation: greet, mood, affirm/deny, goodbye, bot?
BASELINE_MIX: tuple[Conversation, ...] = (
    Conversation("happy", 3, (
        ("greeting", "hello there"), ("mood", "I am feeling very good"), ("other", "bye"))),
    Conversation("sad, helped", 2, (
        ("greeting", "hi"), ("mood", "I am sad"), ("affirm_deny", "yes"),
        ("other", "goodbye"))),
    Conversation("sad, not helped", 2, (
        ("greeting", "hey"), ("mood", "super unhappy"), ("affirm_deny", "no"),
        ("other", "see you later"))),
    Conversation("bot challenge", 1, (
        ("other", "are you a bot?"), ("greeting", "good morning"), ("mood", "great"))),
    Conversation("a longer message", 1, (
        ("free_text_medium", "hey there, it has been a really long week at work and to be "
                             "honest I am feeling quite down about everything"),
        ("affirm_deny", "no"), ("other", "bye"))),
)

MIXES = {"triage": TRIAGE_MIX, "baseline": BASELINE_MIX}
