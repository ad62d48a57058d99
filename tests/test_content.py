"""What the bot states: every number and link comes from the catalogue, in its current value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from actions.catalogue import default_catalogue
from tests.helpers import ROOT, domain, load_yaml, phone_numbers_in, response_texts, urls_in

# Numbers the emergency and helpline answers must carry (uk-facts.md §2.1-2.5).
REQUIRED_IN_RESPONSES = {
    "999", "101", "18001 101", "18000", "08000 121 700", "0800 808 3733", "0800 555 111",
}

# Outdated values (uk-facts.md §3) that must never appear in what the bot says or serves.
OUTDATED = [
    r"0300 ?303 ?8151",  # old Salvation Army line
    r"0800 ?121 ?700(?!\d)",  # the helpline one digit short
    r"0800 ?107 ?7057",  # old NSPCC child trafficking line
    r"08447 ?782406",  # old NCA line
    r"08704 ?965534",  # old NCA fax
    r"45[ -]days?",  # the old recovery period in England and Wales
    r"15 ?p\b",  # the old charge for 101
    r"0345 ?602 ?5020",  # old GLA number
]
SCANNED = ["domain.yml", "config.yml", "README.md", "content", "data", "actions", "addons",
           "scripts", "web"]
# What users type, never said by the bot: people ask about old values ("is it 45 days?") and
# the bot must understand them (its answer gives the current value).
NOT_SCANNED = ROOT / "data" / "nlu"


def bot_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return [f for f in files if f.suffix in {".yml", ".yaml", ".py", ".md", ".html", ".js"}
            and NOT_SCANNED not in f.parents]


def all_response_text() -> str:
    return "\n".join(text for texts in response_texts().values() for text in texts)


def test_every_number_in_the_responses_is_in_the_catalogue() -> None:
    catalogue_phones = default_catalogue().phones()
    for name, texts in response_texts().items():
        for text in texts:
            unknown = phone_numbers_in(text) - catalogue_phones
            assert not unknown, f"{name} states numbers not in the catalogue: {unknown}"


def test_the_key_numbers_are_in_the_static_responses_and_the_catalogue() -> None:
    stated = phone_numbers_in(all_response_text())
    assert stated >= REQUIRED_IN_RESPONSES
    assert default_catalogue().phones() >= REQUIRED_IN_RESPONSES


def test_every_link_in_the_responses_is_in_the_catalogue() -> None:
    catalogue_urls = default_catalogue().urls()
    for name, texts in response_texts().items():
        for text in texts:
            for url in urls_in(text):
                assert url in catalogue_urls, f"{name} links to {url}, not in the catalogue"
                assert url.startswith("https://")


def test_the_emergency_answer_is_static_and_says_999_first() -> None:
    texts = response_texts()
    call = texts["utter_emergency_call"][0]
    assert call.startswith("Call 999 now and ask for the police.")
    assert "press 55" in call
    deaf = texts["utter_emergency_deaf"][0]
    assert "999 BSL" in deaf and "18000" in deaf and "emergencySMS" in deaf
    for rule_file in ("data/rules/safety.yml", "data/rules/triage.yml"):
        for rule in load_yaml(rule_file)["rules"]:
            actions = [step["action"] for step in rule["steps"] if "action" in step]
            if "utter_emergency_call" in actions:
                # The first thing said is 999: nothing comes before it.
                first_utterance = next(a for a in actions if a.startswith("utter_"))
                assert first_utterance == "utter_emergency_call", rule["rule"]


def test_no_custom_action_stands_between_a_user_and_the_emergency_answer() -> None:
    custom = set(domain()["actions"])
    for rule in load_yaml("data/rules/safety.yml")["rules"]:
        actions = [step["action"] for step in rule["steps"] if "action" in step]
        assert not custom & set(actions), rule["rule"]


@pytest.mark.parametrize("pattern", OUTDATED)
def test_no_outdated_value_appears_anywhere_in_the_bot(pattern: str) -> None:
    regex = re.compile(pattern, re.IGNORECASE)
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in bot_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if regex.search(line)
    ]
    assert not hits, "\n".join(hits)


def test_the_outdated_value_check_would_catch_an_old_number() -> None:
    # Built from parts, so that this file itself never holds an outdated number.
    old_salvation_army, short_helpline = "0300 303 " + "8151", "0800 " + "121 700"
    assert any(re.search(p, f"call {old_salvation_army}") for p in OUTDATED)
    assert any(re.search(p, f"call {short_helpline} now") for p in OUTDATED)
    assert not any(re.search(p, "call 08000 121 700 now") for p in OUTDATED)
