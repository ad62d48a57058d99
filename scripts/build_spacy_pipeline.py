"""Build the project's own small spaCy pipeline, which Rasa's SpacyNLP loads from a path.

spaCy's English models download from GitHub, which these machines cannot reach, so the
pipeline is made here from parts on PyPI: a blank English tokenizer, the lookup lemmatizer
from spacy-lookups-data, and an entity ruler for UK places (the synonyms in data/nlu/places.yml),
for languages named in English (data/nlu/language_names.yml) and for roles (data/nlu/roles.yml).

Usage: python scripts/build_spacy_pipeline.py [OUTPUT_DIR]   (default: build/spacy_uk)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # thinc imports TensorFlow when present

import spacy  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PLACES_FILE = ROOT / "data" / "nlu" / "places.yml"
LANGUAGE_NAMES_FILE = ROOT / "data" / "nlu" / "language_names.yml"
ROLES_FILE = ROOT / "data" / "nlu" / "roles.yml"
DEFAULT_OUTPUT = ROOT / "build" / "spacy_uk"
PLACE_LABEL = "uk_place"
LANGUAGE_LABEL = "language_name"
ROLE_LABEL = "role"


def read_places(path: Path = PLACES_FILE) -> dict[str, list[str]]:
    """Nation -> place names, from the Rasa synonyms file; the nation's own name included."""
    places: dict[str, list[str]] = {}
    for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
        if "synonym" in block:
            names = [line.strip()[2:].strip() for line in block["examples"].splitlines()
                     if line.strip().startswith("- ")]
            nation = block["synonym"]
            own_name = nation.replace("_", " ")
            places[nation] = ([] if own_name in names else [own_name]) + names
    return places


def place_patterns(
    places: dict[str, list[str]], label: str = PLACE_LABEL
) -> list[dict[str, Any]]:
    """One token-by-token, case-insensitive pattern per name; the id is its synonym (the
    place's nation, or the language's code)."""
    patterns = []
    for nation, names in places.items():
        for name in names:
            tokens = [{"LOWER": word} for word in name.lower().split()]
            patterns.append({"label": label, "pattern": tokens, "id": nation})
    return patterns


def read_language_names(path: Path = LANGUAGE_NAMES_FILE) -> dict[str, list[str]]:
    """Language code -> its names in English (not the code itself)."""
    names = read_places(path)
    return {code: [n for n in found if n != code] for code, found in names.items()}


def read_roles(path: Path = ROLES_FILE) -> list[str]:
    """The role names of the lookup table `role`."""
    for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
        if block.get("lookup") == ROLE_LABEL:
            return [line.strip()[2:].strip() for line in block["examples"].splitlines()
                    if line.strip().startswith("- ")]
    return []


def build(output: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    ruler = nlp.add_pipe("entity_ruler")
    # initialize() loads the lemma tables from spacy-lookups-data (to_disk() stores them, so
    # the built pipeline no longer needs that package) and empties the ruler: patterns go after.
    nlp.initialize()
    ruler.add_patterns(place_patterns(read_places()))  # type: ignore[attr-defined]
    ruler.add_patterns(  # type: ignore[attr-defined]
        place_patterns(read_language_names(), LANGUAGE_LABEL)
    )
    ruler.add_patterns(  # type: ignore[attr-defined]
        place_patterns({ROLE_LABEL: read_roles()}, ROLE_LABEL)
    )
    nlp.meta["name"] = "spacy_uk"
    nlp.meta["version"] = "1.0.0"
    nlp.meta["description"] = (
        "Blank English + lookup lemmatizer + UK place, language and role ruler")
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    build(output)
    nlp = spacy.load(output)
    doc = nlp("My boss keeps our passports in Glasgow")
    print(f"Built {output}: pipes={nlp.pipe_names}")
    print("  lemmas:", [t.lemma_ for t in doc])
    print("  places:", [(e.text, e.ent_id_) for e in doc.ents])
    doc = nlp("Nurse here, a patient in Milton Keynes")
    print("  entities:", [(e.text, e.label_) for e in doc.ents])


if __name__ == "__main__":
    main()
