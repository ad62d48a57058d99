"""Whole conversations with the real Rasa and action servers, over the REST webhook."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ApiRasa, Chat
from tests.helpers import (
    RESOURCE_LISTS,
    RESOURCE_PAGE,
    UNCHECKED_LINK,
    links_a_user_is_shown,
    places_by_nation,
)

pytestmark = pytest.mark.e2e

EMERGENCY_FIRST_LINE = (
    "Call 999 now and ask for the police. Can't speak? Call 999 from a mobile, listen, then "
    "press 55 when asked (the Silent Solution). If you can say one thing, say where you are."
)


def joined(texts: list[str]) -> str:
    return "\n".join(texts)


def test_danger_clicked_in_the_triage_shows_999_first(chat: Chat) -> None:
    welcome = chat.texts("hi")
    assert "Who is this about?" in welcome
    assert chat.texts("/report_other") == ["Is anyone in danger right now?"]
    answer = chat.texts("/affirm")
    assert answer[0] == EMERGENCY_FIRST_LINE
    assert "press 55" in joined(answer)
    assert "18000" in joined(answer)
    assert "08000 121 700" in answer[-1]


def test_danger_typed_as_the_first_message_shows_999_at_once(chat: Chat) -> None:
    answer = chat.texts("please help he's got a knife and he's hitting her now")
    assert answer[0] == EMERGENCY_FIRST_LINE


def test_danger_typed_in_the_middle_of_the_triage_interrupts_it(chat: Chat) -> None:
    chat.texts("hello")
    answer = chat.texts("they locked us in and i cant get out")
    assert answer[0] == EMERGENCY_FIRST_LINE
    # Once safe, the bot carries on: it asks who this is about, then the danger question.
    after = chat.texts("/safe_now")
    assert "Who is this about?" in after
    assert chat.texts("/report_self") == ["Is anyone in danger right now?"]


def test_worried_about_someone_no_danger_gets_the_helpline_and_101(chat: Chat) -> None:
    first = chat.texts("i think the lads at the car wash on my road are being kept there")
    assert first[-1] == "Is anyone in danger right now?"  # who was understood, not asked
    answer = joined(chat.texts("no"))
    assert "08000 121 700" in answer
    assert "101" in answer and "18001 101" in answer
    assert "do not confront" in answer
    assert "call 999" in answer


def test_not_sure_gets_the_999_advice_and_the_helpline(chat: Chat) -> None:
    chat.texts("my boss has my passport and I can't leave")
    answer = chat.texts("im not sure")
    assert answer[0] == EMERGENCY_FIRST_LINE
    text = joined(answer)
    assert "08000 121 700" in text
    assert "0800 808 3733" in text  # the Salvation Army line for adult victims


def test_a_professional_gets_nrm_information_with_its_source(chat: Chat) -> None:
    chat.texts("I'm a nurse, a patient might be trafficked, what do I do")
    answer = joined(chat.texts("no one is in danger right now"))
    assert "First Responder Organisations" in answer
    assert "Duty to Notify" in answer
    assert "Children under 18 are always referred" in answer
    assert "https://www.gov.uk/guidance/report-modern-slavery-as-a-first-responder" in answer


def link_messages(replies: list[dict[str, Any]]) -> list[str]:
    """The messages of a list that are links: title, description, then the link."""
    return [r["text"] for r in replies
            if r.get("text") and r["text"].splitlines()[-1].startswith("https://")]


def button_titles(replies: list[dict[str, Any]]) -> list[str]:
    return [b["title"] for r in replies for b in r.get("buttons", [])]


@pytest.mark.parametrize(
    ("payload", "category"),
    [
        ("/resource_care_pathways", "victim_care_pathways"),
        ("/resource_legal", "legal_support"),
        ("/resource_survivor_support", "support_for_survivors"),
        ("/resource_services_map", "survivor_services_map"),
    ],
)
def test_each_resource_list_shows_every_link_of_its_catalogue_category_five_at_a_time(
    chat: Chat, payload: str, category: str
) -> None:
    expected = links_a_user_is_shown(category)  # from the catalogue file itself; never empty
    menu = chat.say("/ask_resources")
    assert [b["payload"] for b in menu[0]["buttons"]][:4] == [
        "/resource_care_pathways", "/resource_legal",
        "/resource_survivor_support", "/resource_services_map",
    ]
    pages = [chat.say(payload)]
    while "More" in button_titles(pages[-1]):
        assert len(pages) <= len(expected) // RESOURCE_PAGE, "More after the last link"
        pages.append(chat.say("/more_resources"))
    assert pages[0][0]["text"].startswith(f"{RESOURCE_LISTS[category]}: ")
    shown = [link_messages(page) for page in pages]
    assert [len(links) for links in shown[:-1]] == [RESOURCE_PAGE] * (len(pages) - 1)
    assert 1 <= len(shown[-1]) <= RESOURCE_PAGE
    links = [text for page in shown for text in page]
    assert sorted(text.splitlines()[-1] for text in links) == sorted(e["url"] for e in expected)
    by_url = {text.splitlines()[-1]: text for text in links}
    for entry in expected:
        assert entry["title"].strip() in by_url[entry["url"]]
        assert entry["description"].strip() in by_url[entry["url"]]
        assert (UNCHECKED_LINK in by_url[entry["url"]]) == (entry["verified"] is not True)
    if len(expected) > RESOURCE_PAGE:
        assert pages[0][-1]["text"] == f"Showing 1 to {RESOURCE_PAGE} of {len(expected)}."
    assert "Start again" in button_titles(pages[-1])


def test_more_typed_shows_the_next_links_of_a_long_list(chat: Chat) -> None:
    expected = {e["url"] for e in links_a_user_is_shown("victim_care_pathways")}
    assert len(expected) > 2 * RESOURCE_PAGE  # the seed page lists more than two pages
    chat.texts("/ask_resources")
    first = link_messages(chat.say("victim care pathways please"))
    rest = link_messages(chat.say("show me more"))
    urls = [text.splitlines()[-1] for text in first + rest]
    assert len(first) == len(rest) == RESOURCE_PAGE
    assert len(set(urls)) == 2 * RESOURCE_PAGE and set(urls) <= expected


def test_start_again_and_goodbye_work_at_any_point(chat: Chat) -> None:
    chat.texts("hello")
    chat.texts("/report_other")
    assert chat.texts("start again") == ["Let's start again. Who is this about?"]
    assert chat.texts("/report_self")[-1] == "Is anyone in danger right now?"
    bye = chat.texts("ok bye")
    assert bye == [
        "Take care. If anyone is in danger, call 999. The helpline, 08000 121 700, is open 24 "
        "hours if you want to talk to someone."
    ]


def test_a_question_in_the_middle_of_the_triage_is_answered_then_the_triage_goes_on(
    chat: Chat,
) -> None:
    chat.texts("hi")
    chat.texts("/practitioner")
    answer = chat.texts("what is the nrm?")
    assert "National Referral Mechanism" in answer[0]
    assert answer[-1] == "Is anyone in danger right now?"


def test_a_child_at_risk_gets_the_nspcc_childline_and_the_nrm_fact(chat: Chat) -> None:
    chat.texts("hi")
    assert chat.texts("/report_child") == ["Is anyone in danger right now?"]
    answer = joined(chat.texts("/deny"))
    assert "0808 800 5000" in answer
    assert "0800 1111" in answer
    assert "always referred" in answer


def test_a_child_in_danger_gets_999(chat: Chat) -> None:
    chat.texts("/report_child")
    assert chat.texts("/affirm")[0] == EMERGENCY_FIRST_LINE


def test_the_answer_follows_the_nation_the_user_names(chat: Chat) -> None:
    chat.texts("hello")
    noted = chat.texts("i'm in glasgow")
    assert noted[0].startswith("Thanks. I'll give you answers for Scotland")
    assert noted[-1] == "Who is this about?"  # the triage carries on
    chat.texts("/report_self")
    answer = joined(chat.texts("/deny"))
    assert "0141 884 7900" in answer  # Migrant Help in Scotland
    assert "0800 808 3733" not in answer  # the Salvation Army line is for England and Wales


def test_without_a_nation_the_answer_is_uk_wide(chat: Chat) -> None:
    chat.texts("/report_self")
    answer = joined(chat.texts("/deny"))
    assert "0800 808 3733" in answer and "0141 884 7900" in answer


def test_a_practitioner_quick_answer_then_back_to_the_triage(chat: Chat) -> None:
    chat.texts("/practitioner")
    answer = chat.texts("/duty_to_notify")
    assert "Duty to Notify" in answer[0]
    assert "https://www.gov.uk/guidance/report-modern-slavery-as-a-first-responder" in answer[0]
    assert answer[-1] == "Is anyone in danger right now?"


def test_recovery_period_by_nation(chat: Chat) -> None:
    uk_wide = joined(chat.texts("/recovery_period"))
    assert "at least 30 days" in uk_wide and "90 days" in uk_wide
    chat.texts("we are in edinburgh")
    scotland = joined(chat.texts("/recovery_period"))
    assert "90 days" in scotland and "30 days" not in scotland


NATION_NOTED = {
    "england": "Thanks. I'll give you answers for England.",
    "wales": "Thanks. I'll give you answers for Wales.",
    "scotland": "Thanks. I'll give you answers for Scotland, where the usual term is human "
                "trafficking.",
    "northern_ireland": "Thanks. I'll give you answers for Northern Ireland.",
}


@pytest.mark.parametrize(
    ("where", "nation"),
    [("i live in leeds", "england"), ("we are near swansea", "wales"),
     ("im in aberdeen", "scotland"), ("i am in derry", "northern_ireland"),
     ("we're in east kilbride", "scotland")],
)
def test_a_place_sets_its_nation_and_the_bot_says_which(
    servers_with_api: ApiRasa, where: str, nation: str
) -> None:
    chat = Chat(servers_with_api.bot.webhook_url)
    assert chat.texts(where)[0] == NATION_NOTED[nation]
    assert servers_with_api.tracker(chat.sender)["slots"]["nation"] == nation


def test_every_place_of_places_yml_is_understood_as_its_nation(servers_with_api: ApiRasa) -> None:
    """Through the trained model (the spaCy entity ruler, then the synonyms), each place name
    of data/nlu/places.yml in a message gives its nation, and no other."""
    wrong = []
    for nation, names in places_by_nation().items():
        for name in names:
            parsed = servers_with_api.post("/model/parse", {"text": f"i am in {name}"})
            found = [(e["entity"], e["value"]) for e in parsed["entities"]]
            if found != [("uk_place", nation)]:
                wrong.append((name, nation, found))
    assert wrong == []


@pytest.mark.parametrize(
    ("where", "nation", "says", "does_not_say"),
    [
        ("i live in london", "england", ["0800 808 3733"], ["0141 884 7900", "Live Fear Free"]),
        ("we're in cardiff", "wales", ["0800 808 3733", "0808 80 10 800"], ["0141 884 7900"]),
        ("im in glasgow", "scotland", ["0141 884 7900", "0141 276 7724"], ["0800 808 3733"]),
        ("belfast", "northern_ireland", ["PSNI", "101", "Belfast & Lisburn Women's Aid"],
         ["0800 808 3733"]),
    ],
)
def test_each_nation_gets_its_own_places_to_stay(
    chat: Chat, where: str, nation: str, says: list[str], does_not_say: list[str]
) -> None:
    assert chat.texts(where)[0] == NATION_NOTED[nation]
    chat.texts("/report_self")
    answer = joined(chat.texts("/deny"))
    for text in says:
        assert text in answer, (where, text)
    for text in does_not_say:
        assert text not in answer, (where, text)


def test_duty_to_notify_is_not_claimed_for_scotland(chat: Chat) -> None:
    chat.texts("i work for the council in edinburgh, social worker")
    answer = joined(chat.texts("/deny"))
    assert "does not apply in Scotland" in answer
