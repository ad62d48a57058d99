"""Is a message English? Offline, for short chat messages.

Three signals, cheapest first:
1. Script: a message written mostly in a non-Latin script (Arabic, Chinese, Cyrillic...) is
   not English.
2. Vocabulary: a Latin-script message is English when most of its words are English words: the
   words of the bot's own English training examples and of spaCy's English lemma tables. Typos
   and texting ("survivr", "pls") stay within reach because they are in the training data or
   because most words around them are known.
3. Language identification: py3langid (langid.py, trained on 97 languages and built for short
   texts) must agree that the message is in another language.

A message counts as another language when the script says so, or when most words are unknown
and either py3langid is sure or an unknown word carries letters English does not use (ó, ė, ș).
When most words are unknown but nothing else is sure, the verdict is "unsure" and the intent
classifier's own opinion stands (it learns a few examples of other languages). A misjudged
English message would get the other-language card, so the bar is high.
(lingua gives better guesses on short texts but needed 0.3 to 1.2 GB of memory here.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from py3langid.langid import MODEL_FILE, LanguageIdentifier

WORD = re.compile(r"[^\W\d_]+")
# Share of a message's words that must be unknown before a language guess is even asked for.
MIN_UNKNOWN_SHARE = 0.5
# How sure py3langid must be that the message is not English (normalised probabilities).
MAX_ENGLISH_PROBABILITY = 0.05
MIN_LETTERS = 4


def words_of(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _latin(char: str) -> bool:
    return "LATIN" in unicodedata.name(char, "")


@dataclass(frozen=True)
class Verdict:
    english: bool | None  # None: unsure
    reason: str
    language: str = "en"


class LanguageCheck:
    def __init__(self, lexicon: Iterable[str]) -> None:
        self.lexicon = frozenset(word.lower() for word in lexicon)
        self._identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)

    def check(self, text: str) -> Verdict:
        letters = [c for c in text if c.isalpha()]
        non_latin = sum(1 for c in letters if not _latin(c))
        # Two characters of Chinese already make a word ("救命": help!).
        if len(letters) >= 2 and non_latin * 2 >= len(letters):
            return Verdict(False, "non-Latin script", self._best_guess(text))
        if len(letters) < MIN_LETTERS:
            return Verdict(True, "too short to tell")
        words = words_of(text)
        unknown = [w for w in words if w not in self.lexicon]
        if len(unknown) < MIN_UNKNOWN_SHARE * len(words):
            return Verdict(True, "known words")
        ranking = dict(self._identifier.rank(text))
        language = max(ranking, key=lambda code: ranking[code])
        if language != "en" and ranking.get("en", 0.0) < MAX_ENGLISH_PROBABILITY:
            return Verdict(False, "unknown words and language guess", language)
        if any(not word.isascii() for word in unknown):
            return Verdict(False, "unknown words with letters English does not use", language)
        return Verdict(None, "unknown words, language unsure", language)

    def _best_guess(self, text: str) -> str:
        return str(self._identifier.classify(text)[0])
