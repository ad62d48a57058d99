"""The project's spaCy pipeline: UK places become `uk_place` entities tied to their nation."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from scripts.build_spacy_pipeline import PLACE_LABEL, build
from tests.helpers import ROOT, domain, places_by_nation

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


def test_every_place_becomes_its_nation_as_rasa_maps_it(nlp: spacy.language.Language) -> None:
    """Each place name of data/nlu/places.yml, in a message, is one `uk_place` entity (the whole
    name: "bangor county down", not Bangor in Wales), which Rasa's EntitySynonymMapper, with
    the synonyms Rasa loads from data/nlu/, turns into its nation: a value of the nation slot.
    A name without a synonym would stay a place name and set no nation."""
    from rasa.nlu.extractors.entity_synonyms import EntitySynonymMapper
    from rasa.shared.nlu.training_data.loading import load_data

    synonyms = load_data(str(ROOT / "data" / "nlu")).entity_synonyms
    mapper = EntitySynonymMapper({}, None, None, synonyms)
    slot = domain()["slots"]["nation"]
    assert sorted(slot["values"]) == sorted(NATIONS)
    assert slot["mappings"] == [{"type": "from_entity", "entity": PLACE_LABEL}]
    wrong = []
    checked = 0
    for nation, names in places_by_nation().items():
        for name in names:
            for text in (f"we are in {name} now", f"WE ARE IN {name.upper()} NOW"):
                entities = [{"entity": e.label_, "value": e.text} for e in nlp(text).ents]
                mapper.replace_synonyms(entities)
                found = [(e["entity"], e["value"]) for e in entities]
                checked += 1
                if found != [(PLACE_LABEL, nation)]:
                    wrong.append((text, nation, found))
    assert wrong == []
    assert checked >= 2 * 100  # about a hundred places in all
