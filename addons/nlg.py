"""The bot's answers in the user's language: Rasa's response generator plus fixed translations.

Loaded in the Rasa process from endpoints.yml (`nlg: type: addons.nlg.TranslatingNLG`), so
nothing that can be down stands between Rasa and the translated card, and nothing is translated
at run time: the words come from content/translations/ (i18n/translations.py).

For each response, Rasa picks and fills the English variation as usual. Then, when the `language`
slot names a language with a translation of exactly that English (its fingerprint matches):
- the translation goes first (`translations`), the English after it;
- button titles are translated (the English title kept as `english`), and every button's
  payload carries the language (`/deny{"language": "ti"}`), so a click keeps the conversation in
  that language, even after "Start again";
- right-to-left text gets each number and link isolated (U+2066 ... U+2069), so "08000 121 700"
  is never shown as "700 121 08000".
A response without a current translation stays in English, with a note in the user's language
that the helpline's interpreters can explain it (`note`; the channel keeps one per turn).

When the language is unsure, the card is shown in English, and also in each language the
message may be in (`language_option`: Tigrinya and Amharic, when the LanguageGate cannot tell
them apart), and the picker lists those languages first.

The REST channel (addons/channel.py) turns `translations` and `note` into messages of their own,
each with its `lang` (and `dir`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from addons.ask_instead import ALWAYS_KEPT, ASK_INSTEAD, ASK_WHO, is_story, meaning_buttons
from addons.language import MAX_OPTION_CARDS
from i18n.translations import (
    ENGLISH,
    HELP_EXAMPLE,
    LINK,
    NUMBER,
    EnglishStrings,
    Language,
    english_strings,
    languages,
    offered,
    with_language,
)

logger = logging.getLogger(__name__)

LANGUAGE_SLOT = "language"
OPTION_ENTITY = "language_option"
CARD = "utter_language_card"
PICKER = "utter_language_picker"
NOTE = "utter_interpreter_note"
CHOOSE = "/choose_language"
LRI, PDI = "\u2066", "\u2069"  # left-to-right isolate, pop directional isolate


def isolate(text: str) -> str:
    """Each phone number and link as a left-to-right island in right-to-left text."""
    links = [m.span() for m in LINK.finditer(text)]
    numbers = [m.span() for m in NUMBER.finditer(text)
               if not any(start <= m.start() < end for start, end in links)]
    out, last = [], 0
    for start, end in sorted(links + numbers):
        out.append(text[last:start])
        out.append(f"{LRI}{text[start:end]}{PDI}")
        last = end
    out.append(text[last:])
    return "".join(out)


def picker_payload(code: str) -> str:
    return f'{CHOOSE}{json.dumps({"language": code})}'


class TranslatingNLG(TemplatedNaturalLanguageGenerator):
    def __init__(self, endpoint_config: EndpointConfig | None = None,
                 domain: Domain | None = None,
                 translations: dict[str, Language] | None = None, **kwargs: Any) -> None:
        domain = domain or Domain.empty()
        super().__init__(domain.responses)
        self.languages: dict[str, Language] = dict(
            languages() if translations is None else translations
        )
        self._english_of: Any = None
        self._english = english_strings({"responses": {}}, strict=False)
        self._offered: list[Language] = []

    def _refresh(self) -> None:
        """Rasa makes the generator before it loads the model, then gives it the model's
        responses (Agent sets `responses`): the English strings follow them."""
        if self._english_of is not self.responses:
            self._english = english_strings({"responses": self.responses}, strict=False)
            # The picker offers the languages whose card translates the current English card.
            self._offered = offered(self._english, self.languages.values())
            self._english_of = self.responses

    @property
    def english(self) -> EnglishStrings:
        self._refresh()
        return self._english

    @property
    def offered(self) -> list[Language]:
        self._refresh()
        return self._offered

    def language_of(self, tracker: DialogueStateTracker) -> Language | None:
        code = tracker.get_slot(LANGUAGE_SLOT)
        return self.languages.get(code) if isinstance(code, str) and code != ENGLISH else None

    def options_of(self, tracker: DialogueStateTracker) -> list[Language]:
        entities = tracker.latest_message.entities if tracker.latest_message else []
        codes = [e.get("value") for e in entities if e.get("entity") == OPTION_ENTITY]
        return [self.languages[c] for c in codes if isinstance(c, str) and c in self.languages]

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        asked_buttons = None
        if utter_action == ASK_INSTEAD:
            utter_action, asked_buttons = self._ask_instead(tracker)
        message: dict[str, Any] | None = await super().generate(
            utter_action, tracker, output_channel, **kwargs
        )
        if message is None:
            return None
        if asked_buttons is not None:
            message["buttons"] = asked_buttons
        language = self.language_of(tracker)
        if tracker.get_slot(LANGUAGE_SLOT) == ENGLISH:
            message["language"] = ENGLISH  # chosen: the page goes back to English too
        if utter_action == PICKER:
            return self._picker(message, self.options_of(tracker), language)
        english = str(message.get("text") or "")
        if language is None:
            if utter_action == CARD:
                # Unsure which language: the card in each of the one or two languages it may
                # be (more only order the picker), then English.
                options = self.options_of(tracker)
                if len(options) > MAX_OPTION_CARDS:
                    options = []
                cards = [(lang, lang.response(CARD, english)) for lang in options]
                message["translations"] = [
                    self._translation(lang, text) for lang, text in cards if text is not None
                ]
            return message
        message["language"] = language.code
        translated = language.response(utter_action, english)
        if utter_action == CARD:
            message["text"] = english.replace(HELP_EXAMPLE, language.help_phrase)
        if translated is not None:
            message["translations"] = [self._translation(language, translated)]
        elif utter_action != NOTE:
            note = language.response(NOTE, self.english.responses.get(NOTE, ""))
            if note is not None:
                message["note"] = self._translation(language, note)
        message["buttons"] = [
            self._button(language, button) for button in message.get("buttons") or []
        ]
        if not message["buttons"]:
            del message["buttons"]
        return message

    def _ask_instead(
        self, tracker: DialogueStateTracker
    ) -> tuple[str, list[dict[str, Any]] | None]:
        """Which answer the unsure bot gives (addons/ask_instead.py): "Who is this about?" for a
        story, else the likeliest meanings' buttons of utter_ask_instead."""
        latest = tracker.latest_message
        text = (latest.text or "") if latest else ""
        ranking = (latest.parse_data.get("intent_ranking") or []) if latest else []
        if is_story(text, ranking):
            return ASK_WHO, None
        variations = self.responses.get(ASK_INSTEAD) or [{}]
        buttons = meaning_buttons(variations[0].get("buttons") or [], ranking)
        if all(b.get("payload") in ALWAYS_KEPT for b in buttons):
            return ASK_WHO, None  # no likely meaning has a button: start from who it is about
        return ASK_INSTEAD, buttons

    def _translation(self, language: Language, text: str) -> dict[str, str]:
        out = {"lang": language.code, "text": isolate(text) if language.rtl else text}
        if language.rtl:
            out["dir"] = "rtl"
        return out

    def _button(self, language: Language, button: dict[str, Any]) -> dict[str, Any]:
        payload, title = str(button.get("payload", "")), str(button.get("title", ""))
        out = dict(button)
        out["payload"] = with_language(payload, language.code)
        translated = language.button(payload, title)
        if translated is not None:
            out.update(title=translated, english=title, lang=language.code)
            if language.rtl:
                out["dir"] = "rtl"
        return out

    def _picker(self, message: dict[str, Any], options: list[Language],
                language: Language | None) -> dict[str, Any]:
        first = [lang for lang in options if lang in self.offered]
        ordered = first + [lang for lang in self.offered if lang not in first]
        buttons = [
            {"title": lang.name, "payload": picker_payload(lang.code), "lang": lang.code,
             **({"dir": "rtl"} if lang.rtl else {})}
            for lang in ordered
        ]
        message["buttons"] = buttons + list(message.get("buttons") or [])
        message["language"] = language.code if language else ENGLISH
        return message
