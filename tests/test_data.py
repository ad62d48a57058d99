"""Training data and buttons: enough examples per intent, and every button leads somewhere."""

from __future__ import annotations

from collections import Counter

from tests.helpers import ROOT, domain, load_yaml, nlu_blocks

MIN_EXAMPLES = 30
# Rasa's own intents that the bot also trains on.
DEFAULT_INTENTS = {"restart"}


def examples_by_intent() -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for block, texts in nlu_blocks():
        if "intent" in block:  # not the place synonyms
            examples.setdefault(block["intent"], []).extend(texts)
    return examples


def test_every_intent_has_enough_realistic_examples() -> None:
    counts = Counter({intent: len(texts) for intent, texts in examples_by_intent().items()})
    intents = set(domain()["intents"]) | DEFAULT_INTENTS
    assert set(counts) == intents
    thin = {intent: n for intent, n in counts.items() if n < MIN_EXAMPLES}
    assert not thin, f"intents with fewer than {MIN_EXAMPLES} examples: {thin}"


def intent_of(payload: str) -> str:
    """/choose_language{"language": "en"} -> choose_language"""
    return payload[1:].split("{", 1)[0]


def test_every_button_names_an_intent_the_bot_knows() -> None:
    intents = set(domain()["intents"]) | DEFAULT_INTENTS
    for name, variants in domain()["responses"].items():
        for variant in variants:
            for button in variant.get("buttons", []):
                assert button["payload"].startswith("/"), (name, button)
                assert intent_of(button["payload"]) in intents, (name, button)


def test_every_button_label_is_also_a_training_example_of_its_intent() -> None:
    """A click and the same words typed land in the same place."""
    examples = {
        intent: {text.lower() for text in texts} for intent, texts in examples_by_intent().items()
    }
    for name, variants in domain()["responses"].items():
        for variant in variants:
            for button in variant.get("buttons", []):
                intent = intent_of(button["payload"])
                label = button["title"].lower()
                if intent == "affirm":  # "Yes, someone is in danger now" is taught as emergency
                    assert label in examples["emergency"], (name, label)
                    continue
                assert label in examples[intent], (name, label)


def test_no_turn_needs_more_actions_than_rasa_allows() -> None:
    """Rasa stops after 10 actions in a turn (action_extract_slots included) and the rest of
    the answer is lost, so every rule and story must stay below that."""
    limit = 10
    for folder in ("rules", "stories"):
        for path in sorted((ROOT / "data" / folder).glob("*.yml")):
            document = load_yaml(str(path.relative_to(ROOT)))
            for item in document.get(folder, []):
                run = 1  # a rule that starts mid-turn still follows action_extract_slots
                for step in item["steps"]:
                    if "intent" in step or "or" in step:
                        run = 1  # action_extract_slots
                    elif "action" in step:
                        run += 1
                        assert run < limit, f"{path.name}: {item.get('rule') or item['story']}"
