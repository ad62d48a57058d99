"""EntityMasker: a place or a role named in a message never changes what the message means.

Before, "im in Liverpool where can a man who was trafficked stay tonight" was read as "I'm in
Liverpool" (inform_nation): the training examples that name places are mostly those that only
say where someone is, so every town's name pulled towards that intent; likewise "nurse here,"
pulled any message towards `practitioner`. scripts/robustness.py measured it: a place added in
passing changed the reading of 10 % of the held-out messages, a role first of 54 %.

This component sits after the tokenizer and before the featurizers. When the message says
something besides the place or role, their words are taken out of what the featurizers and the
classifier see, so only the rest of the message tells the intent ("hi from Leeds" reads as "hi
from"). When the place or role is all it says ("im in Leeds", "nurse"), each becomes one token,
`__place__` or `__role__`, so every town reads alike and the message still means "I'm in a
place" (inform_nation) or "I'm asking for my work" (practitioner).

Measured with scripts/robustness.py (agreement of a message's reading with a place added in
passing / a role put first), on the same training data: before, 0.897 / 0.459; replacing every
place and role by its token, 0.657 / 0.422 (the token then stood for inform_nation and
practitioner); taking them out where there is more to read, 0.963 / 0.884. With the words that
frame them ("im in", "(...)", "here") taken out too, and places and roles in the training
examples of every intent, see docs/nlu-evaluation.md.

The message's text is untouched: the entity extractor still finds the place (its nation fills
the `nation` slot), and the danger and language checks still read every word.

A place or role typed with a slip ("i live in walees", "sociaal worker here") is found in the
text as the spelling normaliser put it right (addons/spelling.py): spaCy's entity ruler reads
that text too, and what it finds there is masked like the rest, and a place becomes a
`uk_place` entity, so its nation is set. Before, such a message kept the corrected word,
which the classifier had never seen (places are masked in training too), and fell to the
fallback ("i live in walees", "bssed in Egnland"): 4 of the 15 readings that typos changed
in the held-out sets.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS, TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu import CORRECTED_TEXT

# spaCy entity label -> the token that stands for any span of it.
PLACE = "uk_place"
MASKS = {PLACE: "__place__", "role": "__role__"}
# Words that only frame a place or a role: a message of these and places or roles says
# nothing else ("im in leeds", "i'm a nurse", "based in cardiff here").
FRAME_WORDS = frozenset({
    "i", "im", "i'm", "'m", "m", "am", "a", "an", "the", "in", "from", "here", "at", "live",
    "living", "based", "work", "working", "as", "and", "near", "around", "of", "for", "my",
    "we", "we're", "are", "is", "it", "its", "it's", "this", "s", "'s", "me", "just", "so", "ok",
})


# Words that frame a place or a role right before it ("im in", "from", "i'm a") or right after
# it ("here", a closing bracket): taken out with it, so "im in Hull. a teenager..." reads as
# "a teenager..." and "(Kent)" leaves nothing behind.
FRAME_BEFORE = frozenset({"in", "at", "near", "from", "around", "outside", "of", "a", "an",
                          "the", "im", "i", "m", "'m", "am", "based", "live", "living", "("})
FRAME_AFTER = frozenset({"here", ")"})


def _outside(token: Token, spans: list[tuple[int, int, str]]) -> bool:
    return not any(start <= token.start < end for start, end, _ in spans)


def _without_spans(tokens: list[Token], spans: list[tuple[int, int, str]]) -> list[Token]:
    """The tokens without the spans and the words that frame each of them."""
    keep = [_outside(t, spans) for t in tokens]
    for index in range(len(tokens)):
        if keep[index]:
            continue
        before = index - 1
        while before >= 0 and keep[before] and tokens[before].text.lower() in FRAME_BEFORE:
            keep[before] = False
            before -= 1
        after = index + 1
        while after < len(tokens) and keep[after] and tokens[after].text.lower() in FRAME_AFTER:
            keep[after] = False
            after += 1
    return [t for t, kept in zip(tokens, keep, strict=True) if kept]


def says_more(tokens: list[Token], spans: list[tuple[int, int, str]]) -> bool:
    """Whether a word outside the spans means something beyond framing them."""
    return any(_outside(t, spans) and t.text.lower() not in FRAME_WORDS
               and any(c.isalnum() for c in t.text) for t in tokens)


def mask_tokens(tokens: list[Token], spans: list[tuple[int, int, str]]) -> list[Token]:
    """Without the spans' words when the rest says more; else each span as its mask token."""
    if not spans:
        return tokens
    if says_more(tokens, spans):
        return _without_spans(tokens, spans)
    masked: list[Token] = []
    for token in tokens:
        span = next((s for s in spans if s[0] <= token.start < s[1]), None)
        if span is None:
            masked.append(token)
            continue
        start, end, label = span
        if masked and masked[-1].start == start and masked[-1].text == MASKS[label]:
            continue  # the rest of a span of several words ("milton keynes")
        mask = MASKS[label]
        masked.append(Token(mask, start, end, data=dict(token.data), lemma=mask))
    return masked


def spans_of(message: Message) -> list[tuple[int, int, str]]:
    doc = message.get(SPACY_DOCS[TEXT])
    if doc is None:
        return []
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in MASKS]


def corrected_text(text: str, tokens: list[Token]) -> tuple[str, list[tuple[int, int, Token]]]:
    """The text with each token as the spelling normaliser left it, and where each token is in
    it (start, end, token); tokens keep their offsets in the typed text."""
    pieces: list[str] = []
    where: list[tuple[int, int, Token]] = []
    cursor = length = 0
    for token in tokens:
        gap = text[cursor:token.start]
        typed = text[token.start:token.end]
        word = token.text if token.text.lower() != typed.lower() else typed
        pieces += [gap, word]
        length += len(gap)
        where.append((length, length + len(word), token))
        length += len(word)
        cursor = token.end
    pieces.append(text[cursor:])
    return "".join(pieces), where


def corrected_spans(message: Message, nlp: Any) -> list[tuple[int, int, str, str]]:
    """Places and roles that only the corrected text names: (start, end) in the typed text,
    the label, and the name as corrected."""
    tokens = message.get(TOKENS_NAMES[TEXT])
    if not tokens or not message.get(CORRECTED_TEXT):
        return []
    text, where = corrected_text(message.get(TEXT) or "", tokens)
    found = []
    for entity in nlp(text).ents:
        if entity.label_ not in MASKS:
            continue
        inside = [t for start, end, t in where
                  if start >= entity.start_char and end <= entity.end_char]
        if inside:
            found.append((inside[0].start, inside[-1].end, entity.label_, entity.text))
    return found


def apply_masks(message: Message, nlp: Any = None) -> None:
    tokens = message.get(TOKENS_NAMES[TEXT])
    if not tokens:
        return
    spans = spans_of(message)
    if nlp is not None:
        typed = [(s, e) for s, e, _ in spans]
        added = [found for found in corrected_spans(message, nlp)
                 if not any(found[0] < e and s < found[1] for s, e in typed)]
        spans += [(start, end, label) for start, end, label, _ in added]
        places = [{"entity": PLACE, "value": name.lower(), "start": start, "end": end,
                   "confidence": 1.0, "extractor": "EntityMasker"}
                  for start, end, label, name in added if label == PLACE]
        if places:
            message.set(ENTITIES, [*(message.get(ENTITIES) or []), *places],
                        add_to_output=True)
    message.set(TOKENS_NAMES[TEXT], mask_tokens(tokens, spans))


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False,
    model_from="SpacyNLP",
)
class EntityMasker(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntityMasker:
        return cls()

    def process(self, messages: list[Message], model: SpacyModel) -> list[Message]:
        for message in messages:
            apply_masks(message, model.model)
        return messages

    def process_training_data(self, training_data: TrainingData,
                              model: SpacyModel) -> TrainingData:
        # Training examples are not spell-corrected (addons/spelling.py): no second reading.
        for message in training_data.training_examples:
            apply_masks(message)
        return training_data
