"""The project's spaCy pipeline: UK places become `uk_place` entities tied to their nation."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from scripts.build_spacy_pipeline import PLACE_LABEL, build, read_places
from tests.helpers import nlu_blocks

NATIONS = {"england", "wales", "scotland", "northern_ireland"}


@pytest.fixture(scope="module")
def nlp(tmp_path_factory: pytest.TempPathFactory) -> spacy.language.Language:
    output: Path = tmp_path_factory.mktemp("spacy_uk")
    build(output)
    return spacy.load(output)


@pytest.mark.parametrize(
    ("text", "place", "nation"),
    [
        ("I'm in Glasgow", "Glasgow", "scotland"),
        ("we live in north wales near wrexham", "north wales", "wales"),
        ("its a farm outside BELFAST", "BELFAST", "northern_ireland"),
        ("car wash in milton keynes", "milton keynes", "england"),
        ("i am in northern ireland", "northern ireland", "northern_ireland"),
    ],
)
def test_a_place_is_found_with_its_nation(
    nlp: spacy.language.Language, text: str, place: str, nation: str
) -> None:
    entities = [(e.text, e.label_, e.ent_id_) for e in nlp(text).ents]
    assert (place, PLACE_LABEL, nation) in entities


def test_everyday_words_are_not_places(nlp: spacy.language.Language) -> None:
    assert list(nlp("i was reading about barry and my boss took my passport").ents) == []


def test_lemmas_come_from_the_lookup_tables(nlp: spacy.language.Language) -> None:
    assert [t.lemma_ for t in nlp("they kept our passports")] == ["they", "keep", "our", "passport"]


def test_every_place_maps_to_its_nation_through_the_training_synonyms() -> None:
    places = read_places()
    assert set(places) == NATIONS
    synonyms = {
        name: block["synonym"] for block, names in nlu_blocks() if "synonym" in block
        for name in names
    }
    for nation, names in places.items():
        for name in names:
            assert synonyms.get(name, nation) == nation, name
    assert synonyms["glasgow"] == "scotland"
