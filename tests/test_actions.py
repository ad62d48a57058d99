"""The custom actions, run with real rasa_sdk Trackers and CollectingDispatchers."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.catalogue import RESOURCE_CATEGORIES, default_catalogue
from actions.resources import ActionShowResources
from actions.triage import ActionResetTriage
from tests.helpers import (
    RESOURCE_LISTS,
    RESOURCE_PAGE,
    UNCHECKED_LINK,
    domain,
    links_a_user_is_shown,
    make_tracker,
)

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


def links_of(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages if "\nhttps://" in m.get("text", "")]


def all_pages(intent: str, category: str) -> list[list[dict[str, Any]]]:
    """The list as a user sees it: the category's first page, then "More" until it is gone."""
    messages, events = run_resources({"resource_category": category}, intent)
    pages = [messages]
    while "/more_resources" in payloads(pages[-1][-1]):
        assert len(pages) < 20, "More for ever"
        shown = events[0]["value"]
        messages, events = run_resources(
            {"resource_category": category, "resource_shown": shown}, "more_resources"
        )
        pages.append(messages)
    return pages


@pytest.mark.parametrize(("intent", "category"), sorted(CATEGORY_INTENTS.items()))
def test_each_list_shows_every_link_of_its_category_five_at_a_time_by_title(
    intent: str, category: str
) -> None:
    # From the catalogue file itself, not from the code the action uses; never empty.
    expected = sorted(links_a_user_is_shown(category), key=lambda e: e["title"].strip().lower())
    pages = all_pages(intent, category)

    assert pages[0][0]["text"].startswith(f"{RESOURCE_LISTS[category]}: ")
    assert not any(page[0]["text"].startswith(RESOURCE_LISTS[category]) for page in pages[1:])
    shown = [links_of(page) for page in pages]
    assert [len(links) for links in shown] == [
        min(RESOURCE_PAGE, len(expected) - start)
        for start in range(0, len(expected), RESOURCE_PAGE)
    ]
    for text, entry in zip([t for links in shown for t in links], expected, strict=True):
        lines = text.splitlines()
        assert lines[0].startswith(entry["title"].strip())
        assert lines[1] == entry["description"].strip()
        assert lines[-1] == entry["url"]
        assert (UNCHECKED_LINK in lines) == (entry["verified"] is not True)
    for number, page in enumerate(pages):
        closing = page[-1]
        assert "/restart" in payloads(closing) and "/talk_to_person" in payloads(closing)
        last = number == len(pages) - 1
        assert ("/more_resources" in payloads(closing)) == (not last)
        if len(expected) > RESOURCE_PAGE:
            end = min((number + 1) * RESOURCE_PAGE, len(expected))
            assert closing["text"] == (
                f"Showing {number * RESOURCE_PAGE + 1} to {end} of {len(expected)}."
            )
        else:
            assert closing["text"] == "What would you like to do next?"

    # "More" after the last link says the list is done, and offers no more.
    messages, _ = run_resources(
        {"resource_category": category, "resource_shown": float(len(expected))},
        "more_resources",
    )
    assert messages[0]["text"] == f"That is all the links in {RESOURCE_LISTS[category]}."
    assert "/more_resources" not in payloads(messages[0])


def test_choosing_a_category_again_starts_from_the_first_link() -> None:
    messages, events = run_resources(
        {"resource_category": "legal_support", "resource_shown": 4.0}, "resource_legal"
    )
    assert messages[0]["text"].startswith("Legal support: ")
    expected = sorted(links_a_user_is_shown("legal_support"),
                      key=lambda e: e["title"].strip().lower())[:RESOURCE_PAGE]
    assert [text.splitlines()[-1] for text in links_of(messages)] == [e["url"] for e in expected]
    assert events == [SlotSet("resource_shown", float(len(expected)))]


def test_more_without_a_category_asks_which_category() -> None:
    messages, events = run_resources({}, "more_resources")
    assert [m["response"] for m in messages] == ["utter_ask_resource_category"]
    assert events == []


def test_every_resource_category_has_a_category_intent() -> None:
    assert sorted(CATEGORY_INTENTS.values()) == sorted(RESOURCE_CATEGORIES) == sorted(
        RESOURCE_LISTS
    )


@pytest.mark.parametrize("category", sorted(RESOURCE_LISTS))
def test_unverified_links_come_after_verified_ones(category: str) -> None:
    flags = [e.verified for e in default_catalogue().in_category(category)]
    assert flags and flags == sorted(flags, reverse=True)


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
