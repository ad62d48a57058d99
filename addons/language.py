"""Is a message English, and if not, which language is it? Offline, for short chat messages.

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

Which language (`identify`), so the bot can answer in it: by script first, then two detectors
that must agree, and never a guess where they do not:
- Ethiopic script: Tigrinya or Amharic when pycld2 is sure; otherwise both (never the wrong
  one). Han characters without kana: Chinese. Gurmukhi: Punjabi. Arabic script with the letters
  only Sorani Kurdish writes (ە ێ ۆ ڵ ڕ): Sorani.
- Otherwise pycld2 (CLD2, its tables in its wheel, 165 languages with Tigrinya, Somali and
  Pashto, and "unknown" rather than a guess on short text) must be reliable, and py3langid must
  name the same language where it knows it (it has no Tigrinya, Somali or Sorani, and always
  guesses), on a message of at least MIN_WORDS words.
- Anything else is "unsure": the English card and a language picker, with the languages it may
  be in first. Romanised text (Vietnamese without accents, Arabizi) mostly lands here, as the two
  detectors rarely agree on it. How well this does on sentences written for it, language by
  language: docs/languages.md (scripts/language_report.py). On the 250 held-out messages in the
  bot's languages, trusting pycld2 alone would have named a wrong language 4 times, py3langid
  alone 73 times, this combination never (163 named right, the rest the picker).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import pycld2
from py3langid.langid import MODEL_FILE, LanguageIdentifier

WORD = re.compile(r"[^\W\d_]+")
# Share of a message's words that must be unknown before a language guess is even asked for.
MIN_UNKNOWN_SHARE = 0.5
# How sure py3langid must be that the message is not English (normalised probabilities).
MAX_ENGLISH_PROBABILITY = 0.05
MIN_LETTERS = 4
# A language is named only for a message of at least this many words; shorter ones get the
# picker (with the language's card too, when only one or two are possible).
MIN_WORDS = 4
# How much of the text pycld2 must give to its top language.
MIN_CLD2_PERCENT = 70
# Languages py3langid cannot name (so its guess is no evidence against them).
NOT_IN_PY3LANGID = frozenset({"ti", "so", "ckb", "ha", "ig", "yo", "om"})
# Letters of the Arabic script that only Sorani Kurdish uses among the languages here.
SORANI_LETTERS = frozenset("ەێۆڵڕ")
ARABIC_SCRIPT_LANGUAGES = ("ar", "fa", "ps", "ur", "ckb")
CYRILLIC_LANGUAGES = ("uk", "ru", "bg")
ETHIOPIC_LANGUAGES = ("ti", "am")
# Arabizi (Arabic in Latin letters) writes ع ح خ ق/ص as 3 7 5 9 inside words: "sa3dni",
# "7abibi", "5alas". Two such words mark a message as Arabizi, not English ("7am", "5th"
# and other numbers with units do not count). Measured: docs/languages.md.
ARABIZI_WORD = re.compile(
    r"\b(?![3579]+(?:am|pm|st|nd|rd|th|h|hr|hrs|min|mins|k|kg|km|m|mph|yo|yrs|x|s)\b)"
    r"(?:[a-z]*[3579][a-z]{2,}|[a-z]{2,}[3579][a-z]*)\b"
)
MIN_ARABIZI_WORDS = 2
# Fewer options than this are shown as cards beside the English one; more only order the picker.
MAX_OPTION_CARDS = 2

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


# Words for help shared by several languages: none of them is named, all are offered first.
SHARED_HELP_WORDS = {"pomoc": ("pl", "cs", "sk"), "socorro": ("pt", "es")}


def words_of(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _latin(char: str) -> bool:
    return "LATIN" in unicodedata.name(char, "")


def cld2_detect(text: str, best_effort: bool = False) -> tuple[bool, str, int] | None:
    """pycld2's top language: (reliable, code, percent of the text), with its Kurdish as the
    Sorani code of the translations; None when it cannot read the text (a lone surrogate,
    NUL...)."""
    try:
        reliable, _, details = pycld2.detect(text, bestEffort=best_effort)
    except (pycld2.error, ValueError):
        return None
    code = str(details[0][1])
    return bool(reliable), "ckb" if code == "ku" else code, int(details[0][2])


def script_of(char: str) -> str:
    """The first word of the character's Unicode name: LATIN, ARABIC, ETHIOPIC, CJK..."""
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else ""


@dataclass(frozen=True)
class Verdict:
    english: bool | None  # None: unsure
    reason: str
    language: str = "en"


@dataclass(frozen=True)
class Identification:
    """english: as Verdict. language: the language named (only when sure and supported).
    options: the languages it may be in when not sure, most likely first."""

    english: bool | None
    reason: str
    language: str | None = None
    options: tuple[str, ...] = ()

    @property
    def option_cards(self) -> tuple[str, ...]:
        return self.options if len(self.options) <= MAX_OPTION_CARDS else ()


class LanguageCheck:
    def __init__(self, lexicon: Iterable[str], supported: Iterable[str] = ()) -> None:
        self.lexicon = frozenset(word.lower() for word in lexicon)
        self.supported = frozenset(supported)
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

    # --- Which language --------------------------------------------------------------------

    def identify(self, text: str) -> Identification:
        if len(ARABIZI_WORD.findall(text.lower())) >= MIN_ARABIZI_WORDS:
            return self._unsure(Verdict(False, "Arabizi"), ("ar",))
        verdict = self.check(text)
        if verdict.english is True:
            return Identification(True, verdict.reason)
        letters = [c for c in text if c.isalpha()]
        scripts = {script_of(c) for c in letters}
        non_latin = [c for c in letters if not _latin(c)]
        if non_latin and len(non_latin) * 2 >= len(letters):
            return self._by_script(text, verdict, scripts, non_latin)
        help_options = self._help_word_options(text)
        if help_options and len(words_of(text)) < MIN_WORDS:
            return self._unsure(verdict, help_options)
        named = self._agreed(text, candidates=None)
        if named:
            return Identification(False, "detectors agree", named)
        if verdict.english is None:
            return Identification(None, verdict.reason)
        return self._unsure(verdict, help_options + tuple(self._guesses(text)))

    def _by_script(self, text: str, verdict: Verdict, scripts: set[str],
                   non_latin: list[str]) -> Identification:
        main = max(scripts - {"LATIN"}, key=lambda s: sum(script_of(c) == s for c in non_latin))
        if main == "ETHIOPIC":
            named = self._cld2(text, ETHIOPIC_LANGUAGES, min_words=1)
            if named:
                return Identification(False, "Ethiopic script, pycld2 sure", named)
            return self._unsure(verdict, ETHIOPIC_LANGUAGES)
        if main == "CJK" and not scripts & {"HIRAGANA", "KATAKANA"}:
            return self._named("zh", "Han script")
        if main == "GURMUKHI":
            return self._named("pa", "Gurmukhi script")
        if main == "ARABIC":
            if sum(c in SORANI_LETTERS for c in non_latin) >= 2:
                if len(words_of(text)) >= MIN_WORDS:
                    return self._named("ckb", "Sorani letters")
                return self._unsure(verdict, ("ckb",))
            named = self._agreed(text, ARABIC_SCRIPT_LANGUAGES)
            if named:
                return self._named(named, "Arabic script, detectors agree")
            return self._unsure(verdict, self._order(text, ARABIC_SCRIPT_LANGUAGES))
        if main == "CYRILLIC":
            named = self._agreed(text, CYRILLIC_LANGUAGES)
            if named:
                return self._named(named, "Cyrillic script, detectors agree")
            return self._unsure(verdict, self._order(text, CYRILLIC_LANGUAGES))
        return self._unsure(verdict, ())

    def _named(self, language: str, reason: str) -> Identification:
        if language in self.supported:
            return Identification(False, reason, language)
        return Identification(False, f"{reason}; not a language the bot has")

    def _unsure(self, verdict: Verdict, options: Iterable[str]) -> Identification:
        kept = tuple(dict.fromkeys(code for code in options if code in self.supported))
        return Identification(False, f"{verdict.reason}; language unsure", None, kept)

    def _cld2(self, text: str, candidates: Iterable[str] | None, min_words: int) -> str | None:
        """pycld2's language, if it is reliable, gives it most of the text and is a candidate."""
        found = cld2_detect(text)
        if found is None:
            return None
        reliable, code, percent = found
        if not reliable or percent < MIN_CLD2_PERCENT or len(text.split()) < min_words:
            return None
        if candidates is not None and code not in candidates:
            return None
        return code

    def _agreed(self, text: str, candidates: Iterable[str] | None) -> str | None:
        """The language pycld2 is sure of, when py3langid names it too (or cannot name it)."""
        found = self._cld2(text, tuple(candidates) if candidates else None, MIN_WORDS)
        if found is None or found == "en" or found not in self.supported:
            return None
        if found in NOT_IN_PY3LANGID or self._best_guess(text) == found:
            return found
        return None

    def _guesses(self, text: str) -> list[str]:
        """Both detectors' best guesses, for the picker's order (never to answer in)."""
        guesses = [self._best_guess(text)]
        found = cld2_detect(text, best_effort=True)
        if found is not None:
            guesses.insert(0, found[1])
        return [g for g in guesses if g not in ("en", "un")]

    def _order(self, text: str, candidates: tuple[str, ...]) -> tuple[str, ...]:
        first = [g for g in self._guesses(text) if g in candidates]
        return tuple(dict.fromkeys(first + list(candidates)))

    def _help_word_options(self, text: str) -> tuple[str, ...]:
        options: list[str] = []
        for word in words_of(text):
            if word in SHARED_HELP_WORDS:
                options.extend(SHARED_HELP_WORDS[word])
            elif word in HELP_WORDS:
                options.append(HELP_WORDS[word])
        return tuple(dict.fromkeys(options))
