"""A big alternation of word patterns, tried only where each alternative can start.

Python's `re` tries every alternative of `a|b|c|...` at every character of the text. For the
71 alternatives of addons/danger.py's DANGER that took 0.14 ms per typed message of make
bench's mix (44 characters on average) and 3.2 ms for a 1,000-character paste: the largest
cost of the danger check, which runs on every typed message and again on its spell-corrected
text. Each of those alternatives starts at a word boundary (`\\b`) or at the start of the text
(`^`), most with a known letter ("knife", "locked", "kill") or character ("'ll"), so
`WordAlternation` indexes them by that first character and, at each word start (or such a
character), tries only the ones that can begin there, with those that can begin with any word
(`\\b\\w+ is dying`), in the pattern's order. Measured on the same texts: 0.037 ms per
message and 0.67 ms for the paste.

`finditer` gives exactly the matched spans of `re.finditer` on the whole alternation: at each
place a match can start, the first alternative (in the pattern's order) that matches wins, and
the search goes on after it. tests/test_alternation.py compares both on every training,
held-out and test message and on random text. A pattern it cannot index (an alternative that
may start with any character, or flags other than IGNORECASE and VERBOSE) is refused when it
is built, never searched differently.
"""

from __future__ import annotations

import re
import sre_constants as C  # noqa: N812 - the names of sre's operations
import sre_parse
from collections.abc import Iterator
from typing import Any

# The first character of an alternative may be any word character (`\w+`): in every bucket.
ANY_WORD = "\\w"
SUPPORTED_FLAGS = re.IGNORECASE | re.VERBOSE | re.UNICODE


def split_alternatives(source: str, verbose: bool = True) -> list[str]:
    """The top-level alternatives of a pattern's source (a verbose one's comments dropped)."""
    parts: list[str] = []
    current: list[str] = []
    depth, index, in_class = 0, 0, False
    while index < len(source):
        char = source[index]
        if char == "\\":
            current.append(source[index:index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "#" and verbose:  # a comment, to the end of its line
            end = source.find("\n", index)
            index = len(source) if end < 0 else end
            continue
        elif char == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            index += 1
            continue
        current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _first_letters(items: list[Any]) -> set[str] | None:
    """The (lower-case, ASCII) characters a sequence of sre operations can start with
    (ANY_WORD for any word character), or None when it may start with anything else."""
    for position, (op, value) in enumerate(items):
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue  # consumes nothing; a lookahead only narrows where it matches
        if op is C.LITERAL:
            char = chr(value)
            return {char.lower()} if char.isascii() else None
        if op is C.SUBPATTERN:
            return _first_letters(list(value[-1].data))
        if op is C.BRANCH:
            found: set[str] = set()
            for branch in value[1]:
                letters = _first_letters(list(branch.data))
                if letters is None:
                    return None
                found |= letters
            return found
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            low, _, item = value
            letters = _first_letters(list(item.data))
            if letters is None:
                return None
            if low > 0:
                return letters
            rest = _first_letters(items[position + 1:])
            return None if rest is None else letters | rest
        if op is C.IN and value in ([(C.CATEGORY, C.CATEGORY_WORD)],
                                    [(C.CATEGORY, C.CATEGORY_UNI_WORD)]):
            return {ANY_WORD}
        return None
    return None


def _starts_at_text_start(items: list[Any]) -> bool:
    return bool(items) and items[0] == (C.AT, C.AT_BEGINNING)


class WordAlternation:
    """`pattern`'s top-level alternatives, indexed by the character each can start with."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        if pattern.flags & ~SUPPORTED_FLAGS:
            raise ValueError("only IGNORECASE and VERBOSE are supported")
        sources = split_alternatives(pattern.pattern, bool(pattern.flags & re.VERBOSE))
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
        top: list[Any] = list(parsed.data)
        count = len(top[0][1][1]) if len(top) == 1 and top[0][0] is C.BRANCH else 1
        if count != len(sources):
            raise ValueError(f"found {len(sources)} alternatives, sre has {count}")
        self.alternatives = [re.compile(source, pattern.flags) for source in sources]
        # Every alternative starts at the text's start (`^`: tried there only, with all the
        # others) or at a word boundary (`self.at_words`), else it was refused.
        self.everything = list(range(len(self.alternatives)))
        self.at_words: list[int] = []
        letters_of: dict[int, set[str]] = {}
        for index, alternative in enumerate(self.alternatives):
            items: list[Any] = list(sre_parse.parse(alternative.pattern, alternative.flags).data)
            if _starts_at_text_start(items):
                continue
            if not items or items[0] != (C.AT, C.AT_BOUNDARY):
                raise ValueError(f"alternative {index} does not start with \\b or ^")
            letters = _first_letters(items)
            if letters is None:
                raise ValueError(f"alternative {index} may start with any character")
            self.at_words.append(index)
            letters_of[index] = letters
        self.any_word = [i for i in self.at_words if ANY_WORD in letters_of[i]]
        all_letters = {c for letters in letters_of.values() for c in letters} - {ANY_WORD}
        self.by_letter: dict[str, list[int]] = {
            letter: [i for i in self.at_words
                     if letter in letters_of[i] or ANY_WORD in letters_of[i]]
            for letter in all_letters
        }
        # Where a match can start: a word, or a character some alternative starts with
        # after its \b ("he'll kill her": `\b'll` starts at the apostrophe).
        others = sorted(c for c in all_letters if not re.fullmatch(r"\w", c))
        self.starts = re.compile(r"\b\w" + (f"|[{re.escape(''.join(others))}]" if others else ""))

    def _candidates(self, text: str, position: int) -> list[int]:
        if position == 0:
            return self.everything
        char = text[position]
        if not char.isascii():  # IGNORECASE matches some letters beyond ASCII: try all
            return self.at_words
        return self.by_letter.get(char.lower(), self.any_word)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """The matches `pattern.finditer(text)` gives, in order."""
        starts = [match.start() for match in self.starts.finditer(text)]
        if not starts or starts[0] != 0:
            starts.insert(0, 0)
        resume = 0
        for position in starts:
            if position < resume:
                continue
            for index in self._candidates(text, position):
                match = self.alternatives[index].match(text, position)
                if match is not None:
                    yield match
                    resume = max(match.end(), position + 1)
                    break
