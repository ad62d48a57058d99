"""The bot's answers in the user's language (addons/nlg.py, addons/channel.py), with Rasa's real
Domain and DialogueStateTracker, and the real translation files."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.channel import TriageOutputChannel, one_note_per_turn
from addons.nlg import LRI, PDI, TranslatingNLG, picker_payload
from i18n.translations import languages

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(scope="module")
def nlg() -> TranslatingNLG:
    return TranslatingNLG(domain=DOMAIN)


def tracker(language: str | None = None, options: tuple[str, ...] = ()) -> DialogueStateTracker:
    events: list[Any] = []
    if options:
        entities = [{"entity": "language_option", "value": code} for code in options]
        events.append(UserUttered("ሓገዝ", {"name": "language_unsure"}, entities))
    if language:
        events.append(SlotSet("language", language))
    return DialogueStateTracker.from_events("t", events, slots=DOMAIN.slots)


def generate(nlg: TranslatingNLG, name: str, conversation: DialogueStateTracker) -> dict[str, Any]:
    message = asyncio.run(nlg.generate(name, conversation, "rest"))
    assert message is not None
    return message


def english(name: str) -> str:
    return str(DOMAIN.responses[name][0]["text"])


def test_english_conversations_get_exactly_rasas_responses(nlg: TranslatingNLG) -> None:
    for name in ("utter_ask_who", "utter_emergency_call", "utter_what_next", "utter_nrm_what"):
        message = generate(nlg, name, tracker())
        assert message["text"] == english(name)
        assert "translations" not in message and "note" not in message
        assert [b["payload"] for b in message.get("buttons", [])] == [
            b["payload"] for b in DOMAIN.responses[name][0].get("buttons", [])
        ]


def test_the_card_in_tigrinya_comes_first_and_tells_what_to_say_on_999(
    nlg: TranslatingNLG,
) -> None:
    message = generate(nlg, "utter_language_card", tracker("ti"))
    [translation] = message["translations"]
    assert translation["lang"] == "ti" and "dir" not in translation
    for needed in ("999", "55", "08000 121 700", '"Police"', '"Help, Tigrinya"'):
        assert needed in translation["text"]
    # The English beside it names the user's language too.
    assert '"Help, Tigrinya"' in message["text"] and '"Help, Arabic"' not in message["text"]
    assert message["language"] == "ti"


def test_the_arabic_card_is_right_to_left_with_each_number_isolated(nlg: TranslatingNLG) -> None:
    [translation] = generate(nlg, "utter_language_card", tracker("ar"))["translations"]
    assert translation["dir"] == "rtl" and translation["lang"] == "ar"
    text = translation["text"]
    for number in ("999", "55", "08000 121 700"):
        assert f"{LRI}{number}{PDI}" in text
    assert not any(c.isdigit() and not c.isascii() for c in text)


def test_buttons_are_translated_and_keep_the_language_when_clicked(nlg: TranslatingNLG) -> None:
    message = generate(nlg, "utter_ask_who", tracker("so"))
    assert message["translations"][0]["lang"] == "so"
    buttons = {b["english"]: b for b in message["buttons"]}
    self_button = buttons["It's happening to me"]
    assert self_button["payload"] == '/report_self{"language": "so"}'
    assert self_button["lang"] == "so"
    assert self_button["title"] == languages()["so"].buttons["/report_self"].text


def test_start_again_keeps_the_language(nlg: TranslatingNLG) -> None:
    buttons = generate(nlg, "utter_what_next", tracker("vi"))["buttons"]
    assert '/restart{"language": "vi"}' in [b["payload"] for b in buttons]


def test_an_answer_without_translation_stays_english_with_the_interpreter_note(
    nlg: TranslatingNLG,
) -> None:
    message = generate(nlg, "utter_answer_consent", tracker("pl"))
    assert message["text"] == english("utter_answer_consent")
    assert "translations" not in message
    assert message["note"]["lang"] == "pl"
    assert "08000 121 700" in message["note"]["text"]


def test_an_out_of_date_translation_is_never_shown(nlg: TranslatingNLG) -> None:
    domain = copy.deepcopy(DOMAIN.as_dict())
    domain["responses"]["utter_ask_danger"][0]["text"] = "Is anyone in danger at this moment?"
    changed = TranslatingNLG(domain=Domain.from_dict(domain))
    message = generate(changed, "utter_ask_danger", tracker("uk"))
    assert message["text"] == "Is anyone in danger at this moment?"
    assert "translations" not in message
    assert message["note"]["lang"] == "uk"
    # Its buttons did not change, so they are still translated.
    assert all(b.get("lang") == "uk" for b in message["buttons"])


def test_a_nation_variant_without_translation_stays_english(nlg: TranslatingNLG) -> None:
    conversation = tracker("ro")
    conversation.update(SlotSet("nation", "scotland"))
    message = generate(nlg, "utter_self_places_to_stay", conversation)
    assert "Migrant Help on 0141 884 7900" in message["text"]
    assert "translations" not in message and message["note"]["lang"] == "ro"


def test_tigrinya_or_amharic_unsure_gets_both_cards_and_the_english(nlg: TranslatingNLG) -> None:
    message = generate(nlg, "utter_language_card", tracker(options=("ti", "am")))
    assert [t["lang"] for t in message["translations"]] == ["ti", "am"]
    assert message["text"] == english("utter_language_card")


def test_the_picker_names_each_language_in_its_own_script_options_first(
    nlg: TranslatingNLG,
) -> None:
    message = generate(nlg, "utter_language_picker", tracker(options=("am", "ti")))
    buttons = message["buttons"]
    assert [b["lang"] for b in buttons[:2]] == ["am", "ti"]
    assert buttons[0]["title"] == languages()["am"].name
    assert buttons[0]["payload"] == picker_payload("am") == '/choose_language{"language": "am"}'
    assert buttons[-1] == {"title": "English", "payload": '/choose_language{"language": "en"}'}
    titles = [b["title"] for b in buttons]
    assert len(titles) == len(set(titles)) == len(languages()) + 1
    assert next(b for b in buttons if b["lang"] == "ar")["dir"] == "rtl"


def test_an_unknown_language_code_is_english(nlg: TranslatingNLG) -> None:
    message = generate(nlg, "utter_ask_who", tracker("<script>"))
    assert message["text"] == english("utter_ask_who") and "translations" not in message


# --- The REST channel's messages --------------------------------------------------------------


def sent(nlg: TranslatingNLG, names: list[str], conversation: DialogueStateTracker
         ) -> list[dict[str, Any]]:
    channel = TriageOutputChannel()
    for name in names:
        message = generate(nlg, name, conversation)
        asyncio.run(channel.send_response("t", {**message, "timestamp": 1.0}))
    return one_note_per_turn(channel.messages)


def test_a_translated_answer_is_its_translation_then_the_english_with_the_buttons(
    nlg: TranslatingNLG,
) -> None:
    messages = sent(nlg, ["utter_ask_danger"], tracker("fa"))
    assert [m["lang"] for m in messages] == ["fa", "en"]
    assert messages[0]["dir"] == "rtl" and "buttons" not in messages[0]
    assert messages[1]["text"] == english("utter_ask_danger")
    assert messages[1]["language"] == "fa" and len(messages[1]["buttons"]) == 3


def test_the_interpreter_note_comes_once_after_the_last_english_answer(
    nlg: TranslatingNLG,
) -> None:
    names = ["utter_signs_list", "utter_signs_safety", "utter_what_next"]
    messages = sent(nlg, names, tracker("sq"))
    note = languages()["sq"].responses["utter_interpreter_note"].text
    notes = [m for m in messages if m["text"] == note]
    assert len(notes) == 1
    assert messages.index(notes[0]) == 2  # after the two English answers, before what next
    assert not any("_interpreter_note" in m for m in messages)


def test_english_conversations_reach_the_channel_as_before(nlg: TranslatingNLG) -> None:
    messages = sent(nlg, ["utter_ask_who"], tracker())
    assert messages == [{"recipient_id": "t", "text": english("utter_ask_who"),
                         "buttons": DOMAIN.responses["utter_ask_who"][0]["buttons"]}]


def test_the_endpoints_load_this_generator() -> None:
    for name in ("endpoints.yml", "endpoints.production.yml"):
        endpoints = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
        assert endpoints["nlg"] == {"type": "addons.nlg.TranslatingNLG"}


def test_after_choosing_english_each_answer_says_so_for_the_page(nlg: TranslatingNLG) -> None:
    messages = sent(nlg, ["utter_ask_who"], tracker("en"))
    assert [m.get("language") for m in messages] == ["en"]
    assert "lang" not in messages[0] and messages[0]["text"] == english("utter_ask_who")
