"""LanguageGate: an NLU component that answers "is this English?" (addons/language.py).

It sits after the intent classifier and before the FallbackClassifier. A message in another
language gets the intent `other_language` (confidence 1.0), whatever the classifier thought;
an English message never does (the classifier's next intent takes its place). When the
language check is unsure, the classifier's opinion stands.

Training collects the vocabulary of the English training examples and of spaCy's English
lemma table (spacy-lookups-data) and stores it in the model, so serving needs no extra files.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import spacy_lookups_data
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.danger import signals_danger
from addons.language import LanguageCheck, words_of

OTHER_LANGUAGE = "other_language"
EMERGENCY = "emergency"
LEXICON_FILE = "lexicon.json"


def english_lemma_words() -> set[str]:
    """Every word form in spaCy's English lemma lookup table, and the lemmas themselves."""
    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lemma_lookup.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        table: dict[str, str] = json.load(handle)
    return {w.lower() for pair in table.items() for w in pair if w.isalpha()}


def build_lexicon(english_examples: Iterable[str]) -> set[str]:
    """The words counted as English: spaCy's lemma table and the English training examples."""
    lexicon = english_lemma_words()
    for text in english_examples:
        lexicon.update(words_of(text))
    return lexicon


def _typed_text(message: Message) -> str | None:
    """The text the user typed, or None for a button payload ("/intent"), which has no words."""
    text = message.get(TEXT) or ""
    return None if text.startswith("/") else text


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class LanguageGate(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    def __init__(
        self,
        model_storage: ModelStorage,
        resource: Resource,
        lexicon: set[str] | None = None,
    ) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._check = LanguageCheck(lexicon) if lexicon else None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageGate:
        return cls(model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        lexicon = build_lexicon(
            example.get(TEXT) or ""
            for example in training_data.intent_examples
            if example.get(INTENT) != OTHER_LANGUAGE
        )
        with self._model_storage.write_to(self._resource) as directory:
            (directory / LEXICON_FILE).write_text(json.dumps(sorted(lexicon)), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LanguageGate:
        with model_storage.read_from(resource) as directory:
            lexicon = json.loads((directory / LEXICON_FILE).read_text(encoding="utf-8"))
        return cls(model_storage, resource, set(lexicon))

    def process(self, messages: list[Message]) -> list[Message]:
        if self._check is None:
            return messages
        for message in messages:
            apply_language_check(message, self._check)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def apply_language_check(message: Message, check: LanguageCheck) -> None:
    """other_language when the message is not English; never when it is."""
    text = _typed_text(message)
    if text is None:
        return
    english = check.check(text).english
    if english is False:
        _set_intent(message, OTHER_LANGUAGE)
    elif english is True and _intent_name(message) == OTHER_LANGUAGE:
        _drop_top_intent(message)


def _intent_name(message: Message) -> str | None:
    intent = message.get(INTENT) or {}
    return intent.get("name") if isinstance(intent, dict) else None


def _set_intent(message: Message, name: str) -> None:
    top = {"name": name, "confidence": 1.0}
    ranking = [i for i in message.get(INTENT_RANKING_KEY) or [] if i.get("name") != name]
    message.set(INTENT, top, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)


def _drop_top_intent(message: Message) -> None:
    ranking = [i for i in message.get(INTENT_RANKING_KEY) or [] if i.get("name") != OTHER_LANGUAGE]
    if ranking:
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class DangerGate(GraphComponent):
    """A message with words of danger now (addons/danger.py) gets the intent `emergency`,
    whatever the classifier thought. Placed after the classifier and the LanguageGate."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DangerGate:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            apply_danger_check(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def apply_danger_check(message: Message) -> None:
    text = _typed_text(message)
    if text is not None and signals_danger(text):
        _set_intent(message, EMERGENCY)
