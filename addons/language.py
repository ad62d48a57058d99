"""Is a message English? Offline, for short chat messages.

Three signals, cheapest first (and a short list of words for "help" in other languages, which
settles a message of one or two words):
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

# "Help" (and "rescue me") in Latin-script languages of people often referred to the NRM and of
# large UK migrant communities. Typed alone, such a word is too short for the other signals, and
# the person typing it needs 999 and the helpline's interpreters. Only words outside the English
# lexicon count.
HELP_WORDS = {
    "pomocy": "pl", "pomoc": "pl", "pomóż": "pl", "pomoz": "pl", "ratunku": "pl",
    "ajutor": "ro", "ajutați": "ro", "ajutati": "ro", "ajutațimă": "ro",
    "ndihmë": "sq", "ndihme": "sq", "ndihmo": "sq", "ndihmoni": "sq",
    "cứu": "vi", "giúp": "vi", "giup": "vi",
    "pagalba": "lt", "padėkite": "lt", "padekite": "lt", "gelbėkite": "lt",
    "pomôžte": "sk", "pomozte": "cs",
    "ajuda": "pt", "socorro": "pt", "ayuda": "es", "ayúdame": "es", "ayudame": "es",
    "caawi": "so", "caawimaad": "so", "caawiya": "so",
    "yardım": "tr", "yardim": "tr", "imdat": "tr",
    "segítség": "hu", "segitseg": "hu",
    "palīdzība": "lv", "palīdziet": "lv",
    "aidez": "fr", "secours": "fr",
    "aiuto": "it", "aiutami": "it",
    "hilfe": "de",
    "tulong": "tl", "tulungan": "tl",
    "msaada": "sw", "nisaidie": "sw",
    "taimako": "ha",
    "tolong": "ms",
}


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
        words = words_of(text)
        unknown = [w for w in words if w not in self.lexicon]
        help_words = [w for w in unknown if w in HELP_WORDS]
        if help_words and len(unknown) >= MIN_UNKNOWN_SHARE * len(words):
            return Verdict(False, "a word for help in another language", HELP_WORDS[help_words[0]])
        if len(letters) < MIN_LETTERS:
            return Verdict(True, "too short to tell")
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
