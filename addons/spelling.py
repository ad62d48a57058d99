"""SpellingNormaliser: the typos of people writing fast or in a second language ("pasport",
"freind", "restrant") are read as the words they meant, before the featurizers.

A token is corrected only when it is not an English word at all (spaCy's English lemma table
and the training examples' own words are the English it knows) and symspellpy (PyPI; the
symmetric-delete method) finds a word of the training examples within one edit, or two for
words of seven letters or more: the commonest such word wins. So correct words and places are
left as they are, and a typo can only become a word the classifier learned from. A word of
another language one slip from a training word ("paszport") is read as that word, which does
no harm: the language check reads the text as typed.

Training keeps the training examples' words and their counts in the model; the lemma table
comes from spacy-lookups-data, as for the LanguageGate. The message's text is untouched: the
danger and language checks read what was typed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from symspellpy import SymSpell, Verbosity

from addons.danger import DANGER_WORDS
from addons.nlu import CORRECTED_TEXT, LANGUAGE_INTENTS, english_lemma_words

VOCABULARY_FILE = "vocabulary.json"
MIN_LENGTH = 4  # shorter words have too many neighbours one edit away
LONG_WORD = 7  # from this length on, two edits are allowed
WORD = re.compile(r"^[a-z]+$")


class Speller:
    """Corrections towards the training vocabulary, for words that are not English."""

    def __init__(self, vocabulary: dict[str, int], english: set[str],
                 lemmas: dict[str, str] | None = None) -> None:
        self.english = english | set(vocabulary)
        self.lemmas = lemmas or {}
        self.symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word, count in vocabulary.items():
            if len(word) >= MIN_LENGTH - 1:
                self.symspell.create_dictionary_entry(word, count)

    def correct(self, word: str) -> str | None:
        """The word meant, or None when the word stands (English, too short, or no match)."""
        lower = word.lower()
        if len(lower) < MIN_LENGTH or not WORD.match(lower) or lower in self.english:
            return None
        distance = 2 if len(lower) >= LONG_WORD else 1
        found = self.symspell.lookup(lower, Verbosity.TOP, max_edit_distance=distance)
        return found[0].term if found else None


def vocabulary_of(training_data: TrainingData) -> tuple[dict[str, int], dict[str, str]]:
    """The English training examples' words (lower case), how often each occurs, and the
    lemma spaCy gave each."""
    counts: Counter[str] = Counter()
    lemmas: dict[str, str] = {}
    for example in training_data.intent_examples:
        if example.get("intent") in LANGUAGE_INTENTS:
            continue
        for token in example.get(TOKENS_NAMES[TEXT]) or []:
            text = token.text.lower()
            if WORD.match(text):
                counts[text] += 1
                lemmas.setdefault(text, token.lemma.lower())
    return dict(counts), lemmas


def with_danger_words(vocabulary: dict[str, int]) -> dict[str, int]:
    """The vocabulary and the danger check's words, which win a tie with any other word one
    slip away: a typo read as danger costs one tap, a missed danger word far more."""
    top = max(vocabulary.values(), default=1) + 1
    return {**vocabulary, **{word: top for word in DANGER_WORDS}}


def correct_tokens(message: Message, speller: Speller) -> None:
    tokens = message.get(TOKENS_NAMES[TEXT])
    if not tokens:
        return
    corrected = []
    text = message.get(TEXT) or ""
    changed = False
    for token in reversed(tokens):
        meant = speller.correct(token.text)
        if meant is None:
            corrected.append(token)
            continue
        corrected.append(Token(meant, token.start, token.end, data=dict(token.data),
                               lemma=speller.lemmas.get(meant, meant)))
        text = text[:token.start] + meant + text[token.end:]
        changed = True
    if changed:  # else the danger check would read the same text twice
        message.set(TOKENS_NAMES[TEXT], corrected[::-1])
        message.set(CORRECTED_TEXT, text)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True
)
class SpellingNormaliser(GraphComponent):
    def __init__(self, model_storage: ModelStorage, resource: Resource,
                 vocabulary: dict[str, int] | None = None,
                 lemmas: dict[str, str] | None = None) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._speller = (Speller(with_danger_words(vocabulary), english_lemma_words(), lemmas)
                         if vocabulary else None)

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SpellingNormaliser:
        return cls(model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        counts, lemmas = vocabulary_of(training_data)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(
                json.dumps({"counts": counts, "lemmas": lemmas}, sort_keys=True),
                encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> SpellingNormaliser:
        with model_storage.read_from(resource) as directory:
            stored = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        return cls(model_storage, resource, stored["counts"], stored["lemmas"])

    def process(self, messages: list[Message]) -> list[Message]:
        if self._speller is not None:
            for message in messages:
                correct_tokens(message, self._speller)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training examples are learned as written: their typos are the data's own.
        return training_data
