"""Shared pieces for the tests: real rasa_sdk Trackers, the domain, and text scanning."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker

from scripts.nlu_examples import ENTITY

ROOT = Path(__file__).resolve().parent.parent

# A run of digits, possibly in space-separated groups (as UK numbers are written), of three or
# more digits in all, not followed by "%" ("100%" is not a phone number).
_NUMBER_RUN = re.compile(r"(?<![\d%])\d+(?: \d+)*(?![\d%])")
_YEAR = re.compile(r"^(19|20)\d\d$")
_URL = re.compile(r"https?://[^\s\"'<>]+")


def load_yaml(relative: str) -> Any:
    return yaml.safe_load((ROOT / relative).read_text(encoding="utf-8"))


# The resource lists, as the README names them ("the seed page's four categories"), with the
# label each list starts with.
RESOURCE_LISTS = {
    "victim_care_pathways": "Victim care pathways",
    "legal_support": "Legal support",
    "support_for_survivors": "Support for survivors",
    "survivor_services_map": "Map of survivor services",
}
# What a link of a list says when it could not be checked lately (actions/resources.py).
UNCHECKED_LINK = "We could not check recently that this link still works."
RESOURCE_PAGE = 5  # README: "five links at a time, with More"


def links_a_user_is_shown(category: str) -> list[dict[str, Any]]:
    """The catalogue entries of a resource list, read straight from the catalogue file (the one
    the action server reads: TRIAGE_CATALOGUE or content/catalogue.yml), not through
    actions/catalogue.py: those with a url that are verified or, when none is, every one with a
    url (each then shown with UNCHECKED_LINK). Fails when there are none."""
    path = Path(os.environ.get("TRIAGE_CATALOGUE") or ROOT / "content" / "catalogue.yml")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    with_url = [e for e in document["entries"] if e["category"] == category and e.get("url")]
    links = [e for e in with_url if e["verified"] is True] or with_url
    assert links, f"{path} has no link in the category {category!r}"
    return links


def places_by_nation() -> dict[str, list[str]]:
    """Nation -> the place names of data/nlu/places.yml (read here, not by the code under test),
    the nation's own name ("northern ireland") included."""
    places: dict[str, list[str]] = {}
    for block in load_yaml("data/nlu/places.yml")["nlu"]:
        lines = block["examples"].splitlines()
        names = [x.strip()[2:].strip() for x in lines if x.strip().startswith("- ")]
        own = block["synonym"].replace("_", " ")
        places[block["synonym"]] = names + ([] if own in names else [own])
    assert set(places) == {"england", "wales", "scotland", "northern_ireland"}, sorted(places)
    assert all(places.values()), places
    return places


def plain(example: str) -> str:
    """An NLU example without its entity marks: "[Glasgow](uk_place)" -> "Glasgow"."""
    return ENTITY.sub(r"\1", example)


def nlu_blocks(folder: str = "data/nlu") -> list[tuple[dict[str, Any], list[str]]]:
    """Every block of FOLDER/*.yml (intents and synonyms) with its example texts."""
    blocks = []
    for path in sorted((ROOT / folder).glob("*.yml")):
        for block in load_yaml(str(path.relative_to(ROOT)))["nlu"]:
            lines = block.get("examples", "").splitlines()
            texts = [x.strip()[2:].strip() for x in lines if x.strip().startswith("- ")]
            blocks.append((block, texts))
    return blocks


def domain() -> dict[str, Any]:
    return dict(load_yaml("domain.yml"))


def response_texts() -> dict[str, list[str]]:
    """Every text of every response in domain.yml, by response name."""
    return {
        name: [variant["text"] for variant in variants if "text" in variant]
        for name, variants in domain()["responses"].items()
    }


def phone_numbers_in(text: str) -> set[str]:
    """Phone-number-like runs of digits, ignoring digits inside links."""
    text = _URL.sub(" ", text)
    runs = _NUMBER_RUN.findall(text)
    return {run for run in runs if len(run.replace(" ", "")) >= 3 and not _YEAR.match(run)}


def urls_in(text: str) -> set[str]:
    return {url.rstrip(".,;:)") for url in _URL.findall(text)}


def make_tracker(
    slots: dict[str, Any] | None = None,
    intent: str | None = None,
    text: str = "",
) -> Tracker:
    """A real rasa_sdk Tracker, as the action server builds it from Rasa's request."""
    latest_message: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0} if intent else {},
        "intent_ranking": [{"name": intent, "confidence": 1.0}] if intent else [],
        "entities": [],
    }
    return Tracker(
        sender_id=str(uuid.uuid4()),
        slots=slots or {},
        latest_message=latest_message,
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )
