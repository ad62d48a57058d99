"""Resource lists: the seed page's categories, served as short lists of titled links."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.catalogue import Catalogue, Entry, default_catalogue
from i18n.translations import with_language

PAGE_SIZE = 5
MORE_INTENT = "more_resources"
LANGUAGE_SLOT = "language"
INTERPRETER_NOTE = "utter_interpreter_note"

UNVERIFIED_NOTE = "We could not check recently that this link still works."
FORMAT_LABELS = {"pdf": "PDF", "doc": "Word document", "docx": "Word document"}


def describe(entry: Entry) -> str:
    """One message per link: title (and file type), a one-line description, then the link."""
    kind = FORMAT_LABELS.get(entry.format or "")
    title = f"{entry.title} ({kind})" if kind else entry.title
    caution = "" if entry.verified else f"\n{UNVERIFIED_NOTE}"
    return f"{title}\n{entry.description}{caution}\n{entry.url}"


def closing_buttons(has_more: bool, language: str | None = None) -> list[dict[str, str]]:
    """The buttons after a list. In another language, each payload carries it, so a click
    (even "Start again") keeps the conversation in that language, as the bot's own buttons do."""
    buttons = [{"title": "More", "payload": f"/{MORE_INTENT}"}] if has_more else []
    buttons += [
        {"title": "Other resources", "payload": "/ask_resources"},
        {"title": "Talk to a person", "payload": "/talk_to_person"},
        {"title": "Start again", "payload": "/restart"},
    ]
    if language:
        buttons = [{**b, "payload": with_language(b["payload"], language)} for b in buttons]
    return buttons


def other_language(tracker: Tracker) -> str | None:
    """The language the user chose or wrote in, unless English: the lists stay in English, and
    a note in that language says the helpline's interpreters can explain them."""
    code = tracker.get_slot(LANGUAGE_SLOT)
    return code if isinstance(code, str) and code and code != "en" else None


class ActionShowResources(Action):
    """Shows up to five links of the chosen category; "More" shows the next five."""

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self._catalogue = catalogue

    @property
    def catalogue(self) -> Catalogue:
        return self._catalogue or default_catalogue()

    def name(self) -> str:
        return "action_show_resources"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[EventType]:
        category_id = tracker.get_slot("resource_category")
        category = self.catalogue.categories.get(category_id or "")
        if category is None:
            dispatcher.utter_message(response="utter_ask_resource_category")
            return []

        # The intent itself, not the ranking (get_intent_of_latest_message reads the ranking,
        # which a message may lack).
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        asked_for_more = intent == MORE_INTENT
        start = int(tracker.get_slot("resource_shown") or 0) if asked_for_more else 0
        entries = self.catalogue.links_to_serve(category.id)
        page = entries[start : start + PAGE_SIZE]
        end = start + len(page)

        language = other_language(tracker)
        if not page:
            dispatcher.utter_message(
                text=f"That is all the links in {category.label}.",
                buttons=closing_buttons(has_more=False, language=language),
            )
            return [SlotSet("resource_shown", float(end))]

        if start == 0:
            dispatcher.utter_message(text=f"{category.label}: {category.intro}")
        for entry in page:
            dispatcher.utter_message(text=describe(entry))
        total = len(entries)
        closing = (
            f"Showing {start + 1} to {end} of {total}."
            if total > PAGE_SIZE
            else "What would you like to do next?"
        )
        if language:
            dispatcher.utter_message(response=INTERPRETER_NOTE)
        dispatcher.utter_message(
            text=closing, buttons=closing_buttons(has_more=end < total, language=language)
        )
        return [SlotSet("resource_shown", float(end))]
