"""LanguageGate: an NLU component that answers "is this English, and if not, which language?"
(addons/language.py).

It sits after the intent classifier and before the FallbackClassifier. A message in another
language gets, whatever the classifier thought (confidence 1.0):
- `other_language` and the entity `language` (its code), when the language is known and the bot
  has it (content/translations/): the card and the triage in that language;
- `language_unsure` and an entity `language_option` for each language it may be in, otherwise:
  the English card (with the options' cards when there are one or two) and the picker.
An English message never gets either (the classifier's next intent takes its place). When the
check is unsure whether it is English, the classifier's opinion stands (its own
`other_language` then becomes `language_unsure`: it cannot say which).

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
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.danger import says_no_danger, signals_danger
from addons.language import Identification, LanguageCheck, words_of
from i18n.translations import languages

OTHER_LANGUAGE = "other_language"
LANGUAGE_UNSURE = "language_unsure"
LANGUAGE_INTENTS = (OTHER_LANGUAGE, LANGUAGE_UNSURE)
LANGUAGE_ENTITY = "language"
OPTION_ENTITY = "language_option"
EMERGENCY = "emergency"
# The typed text with each word the spelling normaliser corrected in its place, set only when
# it corrected one (addons/spelling.py).
CORRECTED_TEXT = "text_corrected"
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


def lexicon_of(training_data: TrainingData) -> set[str]:
    """The lexicon as training stores it: the English examples, not the other-language ones."""
    return build_lexicon(
        example.get(TEXT) or ""
        for example in training_data.intent_examples
        if example.get(INTENT) not in LANGUAGE_INTENTS
    )


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
        # The languages the bot has translations for, read when the model is loaded.
        self._check = LanguageCheck(lexicon, languages()) if lexicon else None

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
        lexicon = lexicon_of(training_data)
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
    """other_language (with its language) or language_unsure when the message is not English;
    neither when it is."""
    text = _typed_text(message)
    if text is None:
        return
    found = check.identify(text)
    corrected = message.get(CORRECTED_TEXT)
    if found.english is not True and corrected and check.check(corrected).english is True:
        # Typos are unknown words too: "hello frriend" was read as another language. Words the
        # spelling normaliser put right count as the English words they meant.
        found = Identification(True, "known words once typos are put right")
    if found.english is False:
        if found.language:
            _set_intent(message, OTHER_LANGUAGE)
            _add_entities(message, LANGUAGE_ENTITY, [found.language])
        else:
            _set_intent(message, LANGUAGE_UNSURE)
            _add_entities(message, OPTION_ENTITY, found.options)
    elif found.english is True and _intent_name(message) in LANGUAGE_INTENTS:
        _drop_intents(message, LANGUAGE_INTENTS)
    elif _intent_name(message) == OTHER_LANGUAGE:
        _set_intent(message, LANGUAGE_UNSURE)


def _add_entities(message: Message, name: str, values: Iterable[str]) -> None:
    text = message.get(TEXT) or ""
    added = [
        {"entity": name, "value": value, "start": 0, "end": len(text),
         "confidence_entity": 1.0, "extractor": "LanguageGate"}
        for value in values
    ]
    message.set(ENTITIES, [*(message.get(ENTITIES) or []), *added], add_to_output=True)


def _intent_name(message: Message) -> str | None:
    intent = message.get(INTENT) or {}
    return intent.get("name") if isinstance(intent, dict) else None


def _set_intent(message: Message, name: str) -> None:
    """`name` first, with confidence 1.0. Setting one language intent drops the other too, so
    the FallbackClassifier never sees two close intents that are one decision."""
    top = {"name": name, "confidence": 1.0}
    dropped = set(LANGUAGE_INTENTS) if name in LANGUAGE_INTENTS else {name}
    # The others at most half as sure: the FallbackClassifier (after this) would otherwise take
    # a confident classifier's 0.99 beside the 1.0 here as too close to call, and answer a
    # message with danger words by asking what it meant.
    ranking = [
        {**i, "confidence": float(i.get("confidence") or 0.0) * 0.5}
        for i in message.get(INTENT_RANKING_KEY) or [] if i.get("name") not in dropped | {name}
    ]
    message.set(INTENT, top, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)


def _drop_intents(message: Message, names: Iterable[str]) -> None:
    """The classifier's next reading stands, without these intents."""
    dropped = set(names)
    ranking = [i for i in message.get(INTENT_RANKING_KEY) or [] if i.get("name") not in dropped]
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
    """Danger words make it `emergency`; a message that says nobody is in danger is not
    `emergency` on the classifier's word alone (its next reading stands)."""
    text = _typed_text(message)
    if text is None:
        return
    # The words as typed, and as the spelling normaliser read them ("knif" -> "knife"), set
    # only when it corrected a word.
    corrected = message.get(CORRECTED_TEXT)
    if signals_danger(text) or (corrected is not None and signals_danger(corrected)):
        _set_intent(message, EMERGENCY)
    elif _intent_name(message) == EMERGENCY and says_no_danger(text):
        _drop_intents(message, [EMERGENCY])
