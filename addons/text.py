"""Make any user text safe to hand to the NLU: bounded, printable, one line."""

from __future__ import annotations

import re
import unicodedata

# Longer than any real chat message; NLU time grows with length (a 100 kB message made a
# default Rasa 3.6 work for a minute and then die), so the rest is dropped before NLU.
MAX_MESSAGE_CHARS = 1000
_WHITESPACE = re.compile(r"\s+")
# Markup pasted into the chat: the tags say nothing to the NLU (the words between them may).
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")


def _printable(char: str) -> str:
    category = unicodedata.category(char)
    # Cc: control characters (NUL, escape, newlines...); Cs: lone surrogates from JSON "\ud800",
    # which cannot be encoded as UTF-8 and would fail later, when the reply or tracker is written.
    return " " if category in ("Cc", "Cs") else char


def clean_message(raw: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """The message as the NLU should see it: no control characters or markup tags, single
    spaces, at most
    `limit` characters, cut at a word boundary when one is near the end."""
    text = raw[: limit * 2]  # bounds the work below whatever the input size
    text = unicodedata.normalize("NFC", "".join(_printable(c) for c in text))
    text = _TAG.sub(" ", text)
    text = _WHITESPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.8 else cut).rstrip()
