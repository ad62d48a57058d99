"""The custom actions, run with real rasa_sdk Trackers and CollectingDispatchers."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.catalogue import RESOURCE_CATEGORIES, default_catalogue
from actions.resources import PAGE_SIZE, ActionShowResources
from actions.triage import ActionResetTriage
from tests.helpers import domain, make_tracker

CATEGORY_INTENTS = {
    "resource_care_pathways": "victim_care_pathways",
    "resource_legal": "legal_support",
    "resource_survivor_support": "support_for_survivors",
    "resource_services_map": "survivor_services_map",
}


def run_resources(slots: dict[str, Any], intent: str) -> tuple[list[dict[str, Any]], list[Any]]:
    dispatcher = CollectingDispatcher()
    events = ActionShowResources().run(dispatcher, make_tracker(slots, intent), domain())
    return dispatcher.messages, events


def payloads(message: dict[str, Any]) -> list[str]:
    return [button["payload"] for button in message.get("buttons", [])]


@pytest.mark.parametrize(("intent", "category"), sorted(CATEGORY_INTENTS.items()))
def test_each_category_shows_its_first_links_from_the_catalogue(intent: str, category: str) -> None:
    messages, events = run_resources({"resource_category": category}, intent)
    links = default_catalogue().links_to_serve(category)
    expected = links[:PAGE_SIZE]
    label = default_catalogue().categories[category].label

    assert messages[0]["text"].startswith(f"{label}: ")
    link_messages = messages[1 : 1 + len(expected)]
    for entry, message in zip(expected, link_messages, strict=True):
        assert entry.title in message["text"]
        assert entry.description in message["text"]
        assert message["text"].endswith(entry.url or "")
    closing = messages[-1]
    assert "/restart" in payloads(closing)
    assert "/talk_to_person" in payloads(closing)
    assert ("/more_resources" in payloads(closing)) == (len(links) > PAGE_SIZE)
    assert events == [SlotSet("resource_shown", float(len(expected)))]


def test_more_shows_the_next_links_and_then_says_the_list_is_done() -> None:
    category = "victim_care_pathways"
    links = default_catalogue().links_to_serve(category)
    assert len(links) > PAGE_SIZE  # the seed page lists more than one page of these

    messages, events = run_resources(
        {"resource_category": category, "resource_shown": float(PAGE_SIZE)}, "more_resources"
    )
    shown = [m["text"] for m in messages if "\nhttps://" in m["text"]]
    next_page = links[PAGE_SIZE : 2 * PAGE_SIZE]
    assert [text.splitlines()[-1] for text in shown] == [e.url for e in next_page]
    assert not messages[0]["text"].startswith("Victim care pathways:")  # no repeated intro
    assert f"Showing {PAGE_SIZE + 1} to {PAGE_SIZE + len(next_page)} of {len(links)}." == (
        messages[-1]["text"]
    )
    assert events == [SlotSet("resource_shown", float(PAGE_SIZE + len(next_page)))]

    messages, _ = run_resources(
        {"resource_category": category, "resource_shown": float(len(links))}, "more_resources"
    )
    assert messages[0]["text"] == "That is all the links in Victim care pathways."
    assert "/more_resources" not in payloads(messages[0])


def test_choosing_a_category_again_starts_from_the_first_link() -> None:
    messages, _ = run_resources(
        {"resource_category": "legal_support", "resource_shown": 4.0}, "resource_legal"
    )
    assert messages[0]["text"].startswith("Legal support: ")
    assert "ATLEU" in " ".join(m["text"] for m in messages)


def test_more_without_a_category_asks_which_category() -> None:
    messages, events = run_resources({}, "more_resources")
    assert [m["response"] for m in messages] == ["utter_ask_resource_category"]
    assert events == []


def test_every_resource_category_has_a_category_intent() -> None:
    assert sorted(CATEGORY_INTENTS.values()) == sorted(RESOURCE_CATEGORIES)


def test_unverified_links_come_after_verified_ones() -> None:
    for category in RESOURCE_CATEGORIES:
        flags = [e.verified for e in default_catalogue().in_category(category)]
        assert flags == sorted(flags, reverse=True)


def test_reset_triage_clears_only_the_danger_answer() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({"who": "self", "danger": "no"}, "report_other")
    events = ActionResetTriage().run(dispatcher, tracker, domain())
    assert events == [SlotSet("danger", None)]
    assert dispatcher.messages == []


def test_an_unchecked_link_is_served_only_when_nothing_checked_exists_and_says_so() -> None:
    from actions.catalogue import Catalogue, parse_catalogue
    from actions.resources import UNVERIFIED_NOTE
    from tests.helpers import load_yaml

    document = load_yaml("content/catalogue.yml")
    legal = [e for e in document["entries"] if e["category"] == "legal_support"]
    legal[0]["verified"] = False
    catalogue: Catalogue = parse_catalogue(document)
    served = catalogue.links_to_serve("legal_support")
    assert legal[0]["id"] not in {e.id for e in served}
    assert served and all(e.verified for e in served)

    # When every link of a category is unchecked, they are served, each with a plain warning.
    for entry in document["entries"]:
        if entry["category"] == "survivor_services_map":
            entry["verified"] = False
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({"resource_category": "survivor_services_map"}, "resource_services_map")
    ActionShowResources(parse_catalogue(document)).run(dispatcher, tracker, domain())
    links = [m["text"] for m in dispatcher.messages if "\nhttps://" in m["text"]]
    assert links and all(UNVERIFIED_NOTE in text for text in links)


def test_a_list_in_another_language_ends_with_the_note_and_keeps_the_language() -> None:
    messages, _ = run_resources(
        {"resource_category": "legal_support", "language": "ti"}, "resource_legal"
    )
    # The note is a domain response, so Rasa's generator shows it in Tigrinya (addons/nlg.py).
    assert messages[-2]["response"] == "utter_interpreter_note"
    assert payloads(messages[-1]) == [
        '/ask_resources{"language": "ti"}', '/talk_to_person{"language": "ti"}',
        '/restart{"language": "ti"}',
    ]
    english, _ = run_resources(
        {"resource_category": "legal_support", "language": "en"}, "resource_legal"
    )
    assert all(m.get("response") != "utter_interpreter_note" for m in english)
    assert payloads(english[-1])[-1] == "/restart"
