"""Fixed translations of the safety card and the triage (content/translations/<code>.yml).

Translations are content, kept like the catalogue: one file per language with its code, its name
in its own script, its English name, its direction, who translated it and when, and its review
status (draft, or reviewed by a native speaker). Each string records the fingerprint of the
English it translates (`source`); when the English in domain.yml or on the page changes, the
string is out of date: the bot then shows the English alone (with the interpreter note) rather
than a translation of something it no longer says, and tests/test_translations.py names it until
a translator updates it or re-marks it (`scripts/translations.py stamp`).

Nothing here translates at run time: the bot only shows what a person wrote into these files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS_DIR = ROOT / "content" / "translations"
DOMAIN_PATH = ROOT / "domain.yml"
ENGLISH = "en"
DIRECTIONS = ("ltr", "rtl")
REVIEW_STATUSES = ("draft", "reviewed")
FINGERPRINT_LENGTH = 12

# The responses shown in the user's language: the safety card, the main flow's questions and
# buttons, the answer cards and what next, and the answers that carry 999 or the helpline.
# Quick answers and resource lists stay in English, followed by utter_interpreter_note.
RESPONSES = (
    "utter_language_card",
    "utter_interpreter_note",
    "utter_ask_who",
    "utter_restart",
    "utter_ask_danger",
    "utter_emergency_call",
    "utter_emergency_deaf",
    "utter_emergency_once_safe",
    "utter_glad_safe",
    "utter_self_not_your_fault",
    "utter_self_helpline",
    "utter_self_places_to_stay",
    "utter_self_nrm_support",
    "utter_other_do_not_confront",
    "utter_other_helpline",
    "utter_other_police",
    "utter_other_crimestoppers",
    "utter_pro_danger_first",
    "utter_pro_first_responders",
    "utter_pro_consent",
    "utter_pro_advice",
    "utter_child_nspcc",
    "utter_child_childline",
    "utter_child_nrm",
    "utter_young_not_your_fault",
    "utter_young_childline",
    "utter_young_helpline",
    "utter_young_nrm",
    "utter_if_danger_999",
    "utter_what_next",
    "utter_talk_to_person",
    "utter_iamabot",
    "utter_goodbye",
    "utter_default",
    "utter_out_of_scope",
    "utter_no_reply",
)

# The page's own words (web/index.html), shown in the chosen language beside the English.
PAGE = {
    "danger_line": "In danger now? Call 999 and ask for the police.",
    "helpline_line": "To talk to a person, call the Modern Slavery & Exploitation Helpline on "
    "08000 121 700. It is free and open 24 hours.",
    "exit_label": "Exit this page",
    "language_label": "Language",
}

# The card's example of what to say on a 999 call; each language's card names its own language.
HELP_EXAMPLE = '"Help, Arabic"'

# Phone numbers, emergency numbers and links: a translation must carry exactly those of its
# English, as ASCII digits (never Arabic-Indic or Persian digits) and unchanged links.
NUMBER = re.compile(r"\d+(?: \d+)*")
LINK = re.compile(r"https://[^\s)\]]+[^\s.,;:!?)\]]")


class TranslationError(ValueError):
    """A translation file is missing or malformed."""


@lru_cache(maxsize=1024)  # the bot asks for the same few English texts every turn
def fingerprint(english: str) -> str:
    """The first 12 hex digits of the SHA-256 of the English text (spaces at the ends ignored)."""
    return hashlib.sha256(english.strip().encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]


@dataclass(frozen=True)
class Translated:
    source: str  # fingerprint of the English this translates
    text: str


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in its own script
    english_name: str
    direction: str
    translated_by: str
    translated_on: dt.date
    review_status: str
    reviewed_by: str | None
    reviewed_on: dt.date | None
    # The name to say on a 999 call, when not the English name ("Mandarin" for Chinese).
    say: str | None = None
    # A check short of a native speaker's review (a back-translation), if any.
    checked: str | None = None
    responses: dict[str, Translated] = field(default_factory=dict)
    buttons: dict[str, Translated] = field(default_factory=dict)
    page: dict[str, Translated] = field(default_factory=dict)

    @property
    def rtl(self) -> bool:
        return self.direction == "rtl"

    @property
    def help_phrase(self) -> str:
        """What to say on a 999 call, in English, e.g. "Help, Tigrinya"."""
        return f'"Help, {self.say or self.english_name}"'

    def response(self, name: str, english: str) -> str | None:
        """The translation of response `name`, if it translates exactly this English."""
        found = self.responses.get(name)
        return found.text if found and found.source == fingerprint(english) else None

    def button(self, payload: str, english: str) -> str | None:
        found = self.buttons.get(payload)
        return found.text if found and found.source == fingerprint(english) else None

    def page_text(self, key: str) -> str | None:
        found = self.page.get(key)
        english = PAGE.get(key)
        if found is None or english is None or found.source != fingerprint(english):
            return None
        return found.text


def with_language(payload: str, code: str) -> str:
    """A button payload that also sets the language (`/deny{"language": "ti"}`), so a click keeps
    the conversation in it; unchanged when it names entities already."""
    if not payload.startswith("/") or "{" in payload:
        return payload
    return f'{payload}{{"language": "{code}"}}'


# --- Loading ------------------------------------------------------------------------------


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TranslationError(f"{where}: `{key}` must be a non-empty string")
    return value


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as error:
        raise TranslationError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from error


def _strings(data: Any, where: str) -> dict[str, Translated]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TranslationError(f"{where} must be a mapping")
    out = {}
    for key, entry in data.items():
        at = f"{where}.{key}"
        if not isinstance(entry, dict):
            raise TranslationError(f"{at} must have `source` and `text`")
        source = _text(entry, "source", at)
        if not re.fullmatch(rf"[0-9a-f]{{{FINGERPRINT_LENGTH}}}", source):
            raise TranslationError(f"{at}: `source` must be {FINGERPRINT_LENGTH} hex digits")
        out[str(key)] = Translated(source, _text(entry, "text", at).strip())
    return out


def parse(data: Any, where: str) -> Language:
    if not isinstance(data, dict):
        raise TranslationError(f"{where}: not a mapping")
    code = _text(data, "code", where)
    direction = _text(data, "direction", where)
    if direction not in DIRECTIONS:
        raise TranslationError(f"{where}: direction must be one of {DIRECTIONS}")
    translation = data.get("translation") or {}
    review = data.get("review") or {}
    if not isinstance(translation, dict) or not isinstance(review, dict):
        raise TranslationError(f"{where}: `translation` and `review` must be mappings")
    status = _text(review, "status", f"{where} review")
    if status not in REVIEW_STATUSES:
        raise TranslationError(f"{where}: review status must be one of {REVIEW_STATUSES}")
    reviewed_by = review.get("by")
    reviewed_on = review.get("date")
    if status == "reviewed" and not (reviewed_by and reviewed_on):
        raise TranslationError(f"{where}: a reviewed translation names its reviewer and date")
    return Language(
        code=code,
        name=_text(data, "name", where),
        english_name=_text(data, "english_name", where),
        direction=direction,
        translated_by=_text(translation, "by", f"{where} translation"),
        translated_on=_date(translation.get("date"), f"{where} translation"),
        review_status=status,
        reviewed_by=str(reviewed_by) if reviewed_by else None,
        reviewed_on=_date(reviewed_on, f"{where} review") if reviewed_on else None,
        say=str(data["say"]) if data.get("say") else None,
        checked=str(translation["checked"]) if translation.get("checked") else None,
        responses=_strings(data.get("responses"), f"{where} responses"),
        buttons=_strings(data.get("buttons"), f"{where} buttons"),
        page=_strings(data.get("page"), f"{where} page"),
    )


def load_file(path: Path) -> Language:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TranslationError(f"{path.name}: {error}") from error
    language = parse(data, path.name)
    if path.stem != language.code:
        raise TranslationError(f"{path.name}: the file name must be its code, {language.code}")
    return language


def load_all(folder: Path = TRANSLATIONS_DIR) -> dict[str, Language]:
    """Every language file, by code, in the order of ORDER (then by code)."""
    languages = [load_file(path) for path in sorted(folder.glob("*.yml"))]
    languages.sort(key=lambda lang: (ORDER.index(lang.code) if lang.code in ORDER else 99,
                                     lang.code))
    return {lang.code: lang for lang in languages}


@lru_cache(maxsize=1)
def languages() -> dict[str, Language]:
    return load_all()


# The picker's order: the languages of the people most often referred to the NRM first
# (../shared/notes/languages-and-translation.md), then the others.
ORDER = ("ti", "so", "ar", "sq", "vi", "am", "fa", "ps", "ckb", "ro", "zh", "pl", "uk", "ru",
         "ur", "pa", "bg", "lt", "pt", "es", "tr")


# --- The English they translate -------------------------------------------------------------


@dataclass(frozen=True)
class EnglishStrings:
    responses: dict[str, str]  # response name -> the English text translated (its default)
    buttons: dict[str, str]  # payload -> English title

    def all(self) -> Iterator[tuple[str, str, str]]:
        """(section, key, English) of every string a translation should have."""
        for name, text in self.responses.items():
            yield "responses", name, text
        for payload, title in self.buttons.items():
            yield "buttons", payload, title
        for key, text in PAGE.items():
            yield "page", key, text


def english_strings(domain: dict[str, Any] | None = None, strict: bool = True) -> EnglishStrings:
    """The English of RESPONSES (the variation without a condition) and their buttons, from
    domain.yml. A payload must have one English title across them. Not strict: a response the
    domain lacks is left out (Rasa makes its generator once with an empty domain)."""
    if domain is None:
        domain = yaml.safe_load(DOMAIN_PATH.read_text(encoding="utf-8"))
    all_responses: dict[str, list[dict[str, Any]]] = domain.get("responses") or {}
    responses: dict[str, str] = {}
    buttons: dict[str, str] = {}
    for name in RESPONSES:
        if name not in all_responses:
            if not strict:
                continue
            raise TranslationError(f"domain.yml has no response {name}")
        plain = [v for v in all_responses[name] if not v.get("condition")]
        responses[name] = str(plain[0]["text"]).strip()
        for button in plain[0].get("buttons") or []:
            payload, title = str(button["payload"]), str(button["title"])
            if buttons.setdefault(payload, title) != title:
                raise TranslationError(
                    f"button {payload} has two English titles: {buttons[payload]!r}, {title!r}"
                )
    return EnglishStrings(responses, buttons)


def out_of_date(language: Language, english: EnglishStrings) -> list[str]:
    """The strings of `language` that translate English the bot no longer says."""
    stale = []
    current = {(section, key): fingerprint(text) for section, key, text in english.all()}
    for section, strings in (("responses", language.responses), ("buttons", language.buttons),
                             ("page", language.page)):
        for key, translated in strings.items():
            now = current.get((section, key))
            if now is None:
                stale.append(f"{section}.{key}: the English is gone")
            elif translated.source != now:
                stale.append(f"{section}.{key}: translates English that has changed")
    return stale


def missing(language: Language, english: EnglishStrings) -> list[str]:
    present = {("responses", k) for k in language.responses}
    present |= {("buttons", k) for k in language.buttons}
    present |= {("page", k) for k in language.page}
    return [f"{section}.{key}" for section, key, _ in english.all()
            if (section, key) not in present]


def numbers_and_links(text: str) -> tuple[list[str], list[str]]:
    return sorted(NUMBER.findall(text)), sorted(LINK.findall(text))


def content_problems(language: Language, english: EnglishStrings) -> list[str]:
    """What a translation must keep from its English: every number as the same ASCII digits,
    every link unchanged, and nothing else of either (a number or link nobody checked). The
    card must also teach what to say on a 999 call, in English: "Police" and "Help, <language>"."""
    problems = []
    english_of = {(section, key): text for section, key, text in english.all()}
    for section, strings in (("responses", language.responses), ("buttons", language.buttons),
                             ("page", language.page)):
        for key, translated in strings.items():
            source = english_of.get((section, key))
            if source is None:
                continue
            where = f"{section}.{key}"
            if any(c.isdigit() and not c.isascii() for c in translated.text):
                problems.append(f"{where}: numbers must be ASCII digits (0-9)")
            if numbers_and_links(translated.text) != numbers_and_links(source):
                problems.append(
                    f"{where}: numbers and links must be those of the English: "
                    f"{numbers_and_links(source)}, not {numbers_and_links(translated.text)}"
                )
    card = language.responses.get("utter_language_card")
    if card is not None:
        for needed in ('"Police"', language.help_phrase):
            if needed not in card.text:
                problems.append(f"responses.utter_language_card: must say {needed} in English")
    return problems


def offered(english: EnglishStrings | None = None,
            among: Iterable[Language] | None = None) -> list[Language]:
    """The languages whose safety card translates the current English card: the picker's."""
    english = english or english_strings()
    card = "utter_language_card"
    if card not in english.responses:
        return []
    return [lang for lang in (languages().values() if among is None else among)
            if lang.response(card, english.responses[card]) is not None]
