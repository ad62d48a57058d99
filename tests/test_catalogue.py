"""The catalogue loader: the real file loads, and a malformed one fails naming the entry."""

from __future__ import annotations

import copy
import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from actions.catalogue import (
    RESOURCE_CATEGORIES,
    CatalogueError,
    default_catalogue,
    load_catalogue,
    parse_catalogue,
)
from tests.helpers import RESOURCE_LISTS, ROOT, links_a_user_is_shown, load_yaml

TOOLKIT_CSV = ROOT.parent / "shared" / "content" / "toolkit-links.csv"
SEED_PAGE = "Supporting victims and survivors"
BLOCKS = {
    "Victim care pathways": "victim_care_pathways",
    "Legal support": "legal_support",
    "Support for survivors": "support_for_survivors",
}


def good_document() -> dict[str, Any]:
    return copy.deepcopy(load_yaml("content/catalogue.yml"))


def broken(change: dict[str, Any], index: int = 0) -> dict[str, Any]:
    document = good_document()
    document["entries"][index].update(change)
    return document


def test_the_real_catalogue_loads_with_the_four_resource_lists_of_the_readme() -> None:
    catalogue = load_catalogue()
    assert sorted(RESOURCE_CATEGORIES) == sorted(RESOURCE_LISTS)
    assert {c: catalogue.categories[c].label for c in RESOURCE_LISTS} == RESOURCE_LISTS
    for category in RESOURCE_LISTS:
        # What the loader serves is what the file lists (read here without the loader).
        served = [(e.url, e.title) for e in catalogue.links_to_serve(category)]
        assert sorted(served) == sorted(
            (e["url"], e["title"].strip()) for e in links_a_user_is_shown(category)
        )


def test_phone_numbers_have_a_tel_form() -> None:
    helpline = default_catalogue().get("helpline-modern-slavery")
    assert helpline.phone == "08000 121 700"
    assert helpline.tel == "tel:08000121700"


@pytest.mark.skipif(not TOOLKIT_CSV.exists(), reason="../shared is not beside the project")
def test_every_live_link_of_the_seed_page_is_in_the_catalogue() -> None:
    with TOOLKIT_CSV.open(encoding="utf-8-sig") as handle:
        rows = [row for row in csv.DictReader(handle) if row["page"] == SEED_PAGE]
    catalogue = default_catalogue()
    by_toolkit_id = {e.toolkit_id: e for e in catalogue.entries if e.toolkit_id}
    live = [row for row in rows if row["filename"] or row["link"]]
    assert len(live) == len(rows) - 1  # only the Snowdrop row has no link
    for row in live:
        entry = by_toolkit_id[int(row["id"])]
        expected = (
            "https://toolkit.mikegardner.me.uk/download/" + quote(row["filename"])
            if row["filename"]
            else row["link"]
        )
        assert entry.url == expected, row["title"]
        assert entry.title == row["title"].strip()
        if row["title"] != "Mapping Trafficking Survivor Services":
            assert entry.category == BLOCKS[row["block"]], row["title"]
    assert by_toolkit_id[195].category == "survivor_services_map"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "http://example.org/x"}, "url must be https"),
        ({"phone": "0800-808-3733"}, "phone must be digits"),
        ({"category": "misc"}, "unknown category"),
        ({"audience": ["everyone"]}, "unknown audience"),
        ({"nations": []}, "nations must be a non-empty list"),
        ({"last_reviewed": "last week"}, "last_reviewed is not a date"),
        ({"verified": "yes"}, "verified must be true or false"),
        ({"id": "Bad Id"}, "id must be lowercase"),
        ({"description": "  "}, "description must be non-empty"),
        ({"description": "word " * 40}, "description is longer than 140"),
        ({"verfied": True}, "unknown keys ['verfied']"),
        ({"format": "exe"}, "unknown format"),
    ],
)
def test_a_malformed_entry_is_refused_naming_it(change: dict[str, Any], message: str) -> None:
    document = broken(change)
    entry_id = document["entries"][0]["id"]
    with pytest.raises(CatalogueError) as error:
        parse_catalogue(document)
    assert message in str(error.value)
    assert repr(entry_id) in str(error.value)


def test_a_missing_field_is_named() -> None:
    document = good_document()
    del document["entries"][2]["source"]
    with pytest.raises(CatalogueError, match=r"missing \['source'\]"):
        parse_catalogue(document)


def test_a_duplicate_id_is_refused() -> None:
    document = good_document()
    document["entries"][1]["id"] = document["entries"][0]["id"]
    with pytest.raises(CatalogueError, match="id is used twice"):
        parse_catalogue(document)


def test_an_entry_needs_a_url_or_a_phone() -> None:
    document = good_document()
    document["entries"][0].pop("url", None)
    document["entries"][0].pop("phone", None)
    with pytest.raises(CatalogueError, match="needs a url or a phone number"):
        parse_catalogue(document)


def test_an_empty_resource_category_is_refused() -> None:
    document = good_document()
    document["entries"] = [e for e in document["entries"] if e["category"] != "legal_support"]
    with pytest.raises(CatalogueError, match="no entries in category 'legal_support'"):
        parse_catalogue(document)


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yml"
    path.write_text("entries: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_catalogue(path)


def test_the_action_server_refuses_to_start_with_a_broken_catalogue(tmp_path: Path) -> None:
    """The actions package loads the catalogue at import, so the server stops at start."""
    document = broken({"url": "http://insecure.example"}, index=3)
    bad = tmp_path / "catalogue.yml"
    bad.write_text(yaml.safe_dump(document), encoding="utf-8")
    env = dict(os.environ, TRIAGE_CATALOGUE=str(bad), RASA_TELEMETRY_ENABLED="false")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "run", "actions", "--actions", "actions",
         "--port", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode != 0
    entry_id = document["entries"][3]["id"]
    assert f"catalogue entry {entry_id!r}: url must be https" in result.stderr
