"""Faster versions of Rasa 3.6 internals, each giving the same results as Rasa's own.

Found with a profiler under load (docs/benchmark.md, "Where the time goes"); rasa is pinned to
3.6.21, and tests/test_speedups.py checks each one against the code it replaces.

- RulePolicy compared the conversation with every stored rule state at every prediction (22% of
  the CPU). `_get_possible_keys` now starts from the rules whose last turn can match: the same
  previous action and, when the rule names one, the same intent. The rest of the matching is
  Rasa's own, so the result is the same set of rules.
- Each graph run (one per parse, one per prediction) recomputed the sub-graph for its targets,
  walking every path again, and went through dask's scheduler. `SequentialGraphRunner` keeps
  the order of each target list and calls the nodes in it directly, in one thread, as
  `dask.get` did.
- Every custom-action call checked the action server's answer with `jsonschema.validate()`,
  which checks the (large, constant) events schema itself first each time (8% of the CPU on
  resource turns). The validator is now built once.
- For each prediction, RulePolicy (twice) and MemoizationPolicy each replayed the whole
  conversation to turn it into dialogue states (15% of the CPU). A conversation that has not
  changed since the last time now gives a copy of the states computed then.
  Within one message, the replay goes on from the events it has already replayed.
- Reading a conversation from the tracker store looked up each event's class by walking every
  subclass of Event, once per event (5% of the CPU). The classes are now found in a table.
- Before every action the processor copied the conversation by replaying all its events on a
  new tracker (3%). The copy is now made from the tracker's state directly.
- The processor, RulePolicy and MemoizationPolicy deep-copied states and events for every
  debug log line, also with debug logging off (4%). Without debug logging the copies, which
  nothing else uses, are no longer made.
- Each message asked whether the domain is empty by serialising it and a new empty domain
  (2%). The answer is now kept with the domain, which does not change.
- The CountVectorsFeaturizers counted every token of a message alone (sequence features) as
  well as the whole message (sentence features). This project's DIET reads only the sentence
  features (addons/fast_diet.py), so the token counts are now made when something first reads
  them (Rasa's own DIET prediction, when it is used) and otherwise not at all: 0.53 -> 0.30 ms
  per message of make bench's mix for the two featurizers. The whole message's counts are the
  sum of its words' counts, each word counted once and remembered (WordCounts): 0.30 -> 0.15 ms.

`install()` runs when the `addons` package is imported, which the Rasa server does before it
loads the model (the channel in credentials.yml) and `rasa train`/`rasa test` do while loading
the pipeline (config.yml); addons/__init__.py skips it with TRIAGE_RASA_SPEEDUPS=0 (Rasa's
own code, for comparisons).
"""

from __future__ import annotations

import copy
import functools
import graphlib
import json
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import rasa.core.policies.memoization
import rasa.core.policies.rule_policy
import rasa.core.processor
import scipy.sparse
import structlog
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET, USER
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import (
    ACTION_NAME,
    ACTION_TEXT,
    FEATURE_TYPE_SENTENCE,
    FEATURE_TYPE_SEQUENCE,
    INTENT,
)
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.utils.common import all_subclasses

State = dict[str, dict[str, Any]]

# Rasa's own, kept for the tests and for TRIAGE_RASA_SPEEDUPS=0.
ORIGINAL_GET_POSSIBLE_KEYS = RulePolicy._get_possible_keys
ORIGINAL_VALIDATE_ACTION_RESULT = RemoteAction._validate_action_result
ORIGINAL_RESOLVE_BY_TYPE = Event.resolve_by_type
ORIGINAL_STATES_FOR_TRACKER_HISTORY = Domain.states_for_tracker_history
ORIGINAL_COPY = DialogueStateTracker.copy
ORIGINAL_IS_EMPTY = Domain.is_empty
ORIGINAL_COUNT_VECTORS_PROCESS = CountVectorsFeaturizer.process

# --- RulePolicy ---------------------------------------------------------------------------

# A rule whose last turn has no plain previous action (a conversation start, or an unusual
# state) is always checked; so is the intent part of a rule that names no intent.
ANY = ""


def _set(value: Any) -> str:
    """The value a rule requires, or ANY when it requires none (Rasa's matching rules)."""
    if isinstance(value, str) and value and value != SHOULD_NOT_BE_SET:
        return value
    return ANY


def _last_turn_key(rule_key: str) -> tuple[str, str, str]:
    """(kind of previous action, previous action, intent) that a rule's last turn requires."""
    last: State = json.loads(rule_key)[-1]
    previous = last.get(PREVIOUS_ACTION) or {}
    name, text = _set(previous.get(ACTION_NAME)), _set(previous.get(ACTION_TEXT))
    intent = _set((last.get(USER) or {}).get(INTENT))
    if name and not text:
        return ACTION_NAME, name, intent
    if text and not name:
        return ACTION_TEXT, text, intent
    return ANY, ANY, ANY


class RuleIndex:
    """The rule keys of one lookup table, grouped by what their last turn requires."""

    def __init__(self, lookup: dict[str, str]) -> None:
        self.lookup = lookup
        self.size = len(lookup)
        self.groups: dict[tuple[str, str, str], set[str]] = {}
        for rule_key in lookup:
            self.groups.setdefault(_last_turn_key(rule_key), set()).add(rule_key)

    def is_for(self, lookup: dict[str, str]) -> bool:
        # Training removes contradicting rules from the table: then it is indexed again.
        return lookup is self.lookup and len(lookup) == self.size

    def candidates(self, state: State) -> set[str]:
        """Every rule whose last turn could match `state` (a superset of those that do)."""
        previous = state.get(PREVIOUS_ACTION) or {}
        intent = (state.get(USER) or {}).get(INTENT)
        found = set(self.groups.get((ANY, ANY, ANY), ()))
        for kind in (ACTION_NAME, ACTION_TEXT):
            action = previous.get(kind)
            if isinstance(action, str) and action:
                found |= self.groups.get((kind, action, ANY), set())
                if isinstance(intent, str) and intent:
                    found |= self.groups.get((kind, action, intent), set())
        return found


def _indexed_possible_keys(
    policy: RulePolicy, lookup: dict[str, str], states: list[State]
) -> set[str]:
    if not states:
        return set(ORIGINAL_GET_POSSIBLE_KEYS(policy, lookup, states))
    indexes: list[RuleIndex] = policy.__dict__.setdefault("_triage_rule_indexes", [])
    index = next((i for i in indexes if i.is_for(lookup)), None)
    if index is None:
        indexes[:] = [i for i in indexes if i.lookup is not lookup]
        index = RuleIndex(lookup)
        indexes.append(index)
    possible_keys = index.candidates(states[-1])
    # From here on exactly Rasa's loop, over the candidates instead of every rule.
    for turn, state in enumerate(reversed(states)):
        possible_keys = {
            key for key in possible_keys if policy._is_rule_applicable(key, turn, state)
        }
    return possible_keys


# --- Graph runner -------------------------------------------------------------------------


class SequentialGraphRunner(DaskGraphRunner):
    """DaskGraphRunner's nodes and results, without recomputing the sub-graph or dask."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._orders: dict[tuple[str, ...], list[str]] = {}

    def _order(self, targets: tuple[str, ...]) -> list[str]:
        order = self._orders.get(targets)
        if order is None:
            nodes = self._graph_schema.minimal_graph_schema(list(targets)).nodes
            sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
            for name, node in nodes.items():
                sorter.add(name, *(need for need in node.needs.values() if need in nodes))
            order = list(sorter.static_order())
            self._orders[targets] = order
        return order

    def run(
        self, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
    ) -> dict[str, Any]:
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        order = self._order(run_targets)
        results: dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, str) and value in self._graph_schema.nodes:
                raise GraphRunError(f"Input value '{value}' clashes with a node name.")
            results[name] = (name, value)
        nodes = self._graph_schema.nodes
        try:
            for name in order:
                needs: Iterable[str] = nodes[name].needs.values()
                results[name] = self._instantiated_nodes[name](*(results[n] for n in needs))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(results[target] for target in run_targets)


# --- Action server answers ----------------------------------------------------------------

_validator: Any = None  # a jsonschema validator for RemoteAction's answer format


def _validate_action_result_once(self: RemoteAction, result: dict[str, Any]) -> bool:
    global _validator
    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        _validator = validator_for(schema)(schema)
    try:
        _validator.validate(result)
    except ValidationError:
        # Rasa's own message and behaviour for a malformed answer.
        return bool(ORIGINAL_VALIDATE_ACTION_RESULT(self, result))
    return True


# --- Dialogue states --------------------------------------------------------------------

_STATES = "_triage_states"  # the cache, kept on the tracker object itself


def _copy_states(states: list[State]) -> list[State]:
    # Callers change a state's parts in place (drop the user's text, rule-only slots); the
    # values inside are strings and tuples.
    return [{part: dict(values) for part, values in state.items()} for state in states]


class _Replay:
    """Rasa's Domain.states_for_tracker_history, able to go on from where it stopped.

    Rasa replays the conversation's applied events on a fresh tracker and takes a state before
    every action and one at the end. Within one message the policies ask again after every
    action, for a conversation that has only grown: the replay keeps its tracker, its states
    and its loop variables after the events it has seen, and replays only the new ones, as
    long as the applied events it saw are still the first applied events (a rewind, a restart
    or a new session start it again from the beginning)."""

    def __init__(
        self,
        domain: Domain,
        tracker: DialogueStateTracker,
        omit_unset_slots: bool,
        ignore_rule_only_turns: bool,
        rule_only_data: dict[str, Any] | None,
    ) -> None:
        self.domain = domain
        self.options = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        self.applied: list[Event] = []
        self.tracker = tracker.init_copy()
        self.states: list[State] = []
        self.last_ml_action_sub_state: Any = None
        self.turn_was_hidden = False

    def _step(self, hide_rule_turn: bool, states: list[State]) -> None:
        """One pass of Rasa's loop body, for self.tracker as it is now."""
        domain, tr = self.domain, self.tracker
        omit_unset_slots, ignore_rule_only_turns, rule_only_data = self.options
        if ignore_rule_only_turns:
            if not self.turn_was_hidden:
                self.last_ml_action_sub_state = domain._get_prev_action_sub_state(tr)
            if not tr.followup_action and tr.latest_action_name != tr.active_loop_name:
                self.turn_was_hidden = hide_rule_turn
            if self.turn_was_hidden:
                return
        state = domain.get_active_state(tr, omit_unset_slots=omit_unset_slots)
        if ignore_rule_only_turns:
            domain._remove_rule_only_features(state, rule_only_data)
            if states:
                domain._substitute_rule_only_user_input(state, states[-1])
            if self.last_ml_action_sub_state:
                state[PREVIOUS_ACTION] = self.last_ml_action_sub_state
        states.append(domain._clean_state(state))

    def resumes(self, applied: list[Event]) -> bool:
        seen = self.applied
        if len(seen) > len(applied):
            return False
        return all(a is b for a, b in zip(seen, applied, strict=False))

    def states_for(self, applied: list[Event]) -> list[State]:
        """The states for a conversation whose applied events start with those seen so far."""
        for event in applied[len(self.applied):]:
            if isinstance(event, ActionExecuted):
                self._step(event.hide_rule_turn, self.states)
            self.tracker.update(event)
        self.applied = list(applied)
        # The state at the end is not kept: the next event may come before it.
        kept = (self.last_ml_action_sub_state, self.turn_was_hidden)
        states = list(self.states)
        self._step(False, states)
        self.last_ml_action_sub_state, self.turn_was_hidden = kept
        return states


_APPLIED = "applied events"  # the cache's entry for the applied events, by version


def _data_key(data: dict[str, Any] | None) -> Any:
    """A key for rule-only data (lists of slot and loop names; a new dict at every call)."""
    if data is None:
        return None
    try:
        key = tuple(sorted((name, tuple(value)) for name, value in data.items()))
        hash(key)
    except TypeError:
        return json.dumps(data, sort_keys=True)
    return key


def _cached_states_for_tracker_history(
    domain: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    # Training uses tracker subclasses with their own caches: left to Rasa.
    if type(tracker) is not DialogueStateTracker:
        states: list[State] = ORIGINAL_STATES_FOR_TRACKER_HISTORY(
            domain, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
        return states
    events = tracker.events
    # Events are only ever added to a tracker: the same count and the same last event object
    # mean the same conversation.
    version = (len(events), id(events[-1]) if events else 0)
    options = (id(domain), omit_unset_slots, ignore_rule_only_turns, _data_key(rule_only_data))
    cache: dict[Any, Any] = tracker.__dict__.setdefault(_STATES, {})
    found = cache.get(options)
    if found is None or found[0] != version:
        replay: _Replay | None = found[1] if found is not None else None
        # The same for every option set (RulePolicy and MemoizationPolicy ask with different
        # ones); Rasa works it out for each.
        applied_for = cache.get(_APPLIED)
        if applied_for is None or applied_for[0] != version:
            applied_for = (version, tracker.applied_events())
            cache[_APPLIED] = applied_for
        applied: list[Event] = applied_for[1]
        if replay is None or replay.domain is not domain or not replay.resumes(applied):
            replay = _Replay(
                domain, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data
            )
        found = (version, replay, replay.states_for(applied))
        cache[options] = found
    return _copy_states(found[2])


# --- Event classes -----------------------------------------------------------------------

_event_classes: dict[str, type[Event]] = {}


def _resolve_event_type(
    type_name: str, default: type[Event] | None = None
) -> type[Event] | None:
    found = _event_classes.get(type_name)
    if found is None:
        # Unknown here: Rasa's own search (a class defined since, "topic", the default, an error).
        found = ORIGINAL_RESOLVE_BY_TYPE(type_name, default)
        if found is not None and found is not default:
            _event_classes.setdefault(type_name, found)
    return found


def _fill_event_classes() -> None:
    for cls in all_subclasses(Event):
        # The first class of a name wins, as in Rasa's search.
        _event_classes.setdefault(cls.type_name, cls)


# --- Copies of a conversation -------------------------------------------------------------


def _copy_tracker(self: DialogueStateTracker) -> DialogueStateTracker:
    """What Rasa's copy() (a replay of every event on init_copy()) ends with: the same events,
    slots and state, none of it shared with this tracker except the events themselves."""
    # A capped history replays to something else than the tracker's state: Rasa's way.
    if type(self) is not DialogueStateTracker or self._max_event_history is not None:
        return ORIGINAL_COPY(self)
    # Every attribute is set below, from this tracker's: no need for __init__'s.
    tracker: DialogueStateTracker = DialogueStateTracker.__new__(DialogueStateTracker)
    for name, value in self.__dict__.items():
        if name == "events":
            tracker.events = type(value)(value)
        elif name == "slots":
            tracker.slots = {slot_name: copy.copy(slot) for slot_name, slot in value.items()}
        elif name == "latest_action":
            tracker.latest_action = dict(value) if value is not None else None
        elif name == "active_loop":
            tracker.active_loop = copy.copy(value)
        elif name != _STATES:
            tracker.__dict__[name] = value
    return tracker


# --- Copies made only for debug logs -------------------------------------------------------


def _debug_logs_off() -> bool:
    """Whether structlog drops debug() calls (Rasa configures a filtering logger)."""
    wrapper = structlog.get_config().get("wrapper_class")
    nop = getattr(getattr(structlog, "_native", None), "_nop", None)
    return nop is not None and getattr(wrapper, "debug", None) is nop


class _CopyForDebugLogs:
    """The `copy` module, as seen by Rasa modules whose deepcopy() calls only make values for
    structlog's debug(): without debug logging the value itself is passed (and dropped)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if _debug_logs_off():
            return value
        return copy.deepcopy(value, memo)


# Rasa 3.6 modules in which every copy.deepcopy() is an argument of structlogger.debug().
COPIES_ONLY_FOR_DEBUG_LOGS = (
    rasa.core.processor,
    rasa.core.policies.memoization,
    rasa.core.policies.rule_policy,
)


# --- The domain ----------------------------------------------------------------------------

_EMPTY = "_triage_is_empty"


def _is_empty_once(self: Domain) -> bool:
    found = self.__dict__.get(_EMPTY)
    if found is None:
        found = ORIGINAL_IS_EMPTY(self)
        self.__dict__[_EMPTY] = found
    return bool(found)


# --- Token counts made when read --------------------------------------------------------------


class LazyFeatures(Features):
    """Sparse features whose matrix is made the first time something reads it."""

    def __init__(self, make: Callable[[], Any], feature_type: str, attribute: str,
                 origin: str) -> None:
        # Not Features.__init__: it reads the matrix to check its kind (sparse, here).
        self._make: Callable[[], Any] | None = make
        self._matrix: Any = None
        self.type = feature_type
        self.origin = origin
        self.attribute = attribute
        self._cached_fingerprint = None

    @property
    def features(self) -> Any:
        if self._make is not None:
            self._matrix, self._make = self._make(), None
        return self._matrix

    @features.setter
    def features(self, value: Any) -> None:
        self._matrix, self._make = value, None

    def is_sparse(self) -> bool:
        return True

    def is_dense(self) -> bool:
        return False


def _counts(vectorizer: Any, texts: list[str]) -> Any:
    """What Rasa's featurizer makes of texts (one row each)."""
    matrix = vectorizer.transform(texts)
    matrix.sort_indices()
    return matrix.tocoo()


# Words remembered per vectorizer; a full memory starts again (random text cannot grow it).
WORDS_REMEMBERED = 20_000


class WordCounts:
    """A message's counts as the sum of its words' counts, each word counted once.

    scikit-learn's `char_wb` analyzer pads and cuts each whitespace-separated word alone, and
    the `word` analyzer with single words finds no token across whitespace, so the counts of a
    text are the sum of the counts of its words. Under load the profile had scikit-learn counting
    the whole message at 0.5 ms per message; the words of the mix recur, and each is now
    counted once by the vectorizer itself. The same matrix (tests/test_speedups.py)."""

    def __init__(self, vectorizer: Any) -> None:
        self.vectorizer = vectorizer
        self.words: dict[str, list[tuple[int, int]]] = {}

    @staticmethod
    def applies_to(vectorizer: Any) -> bool:
        return bool(
            vectorizer.input == "content" and vectorizer.preprocessor is None
            and vectorizer.tokenizer is None and vectorizer.strip_accents is None
            and (vectorizer.analyzer == "char_wb"
                 or (vectorizer.analyzer == "word" and tuple(vectorizer.ngram_range) == (1, 1))))

    def of_word(self, word: str) -> list[tuple[int, int]]:
        found = self.words.get(word)
        if found is None:
            row = self.vectorizer.transform([word])
            found = list(zip(row.indices.tolist(), row.data.tolist(), strict=True))
            if len(self.words) >= WORDS_REMEMBERED:
                self.words.clear()
            self.words[word] = found
        return found

    def of_text(self, text: str) -> Any:
        """What `_counts(vectorizer, [text])` gives."""
        counts: dict[int, int] = {}
        for word in text.split():
            for index, count in self.of_word(word):
                counts[index] = counts.get(index, 0) + count
        indices = sorted(counts)
        return scipy.sparse.coo_matrix(
            (np.array([counts[i] for i in indices], dtype=self.vectorizer.dtype),
             (np.zeros(len(indices), dtype=np.int32), np.array(indices, dtype=np.int32))),
            shape=(1, len(self.vectorizer.vocabulary_)))


_WORD_COUNTS = "_triage_word_counts"


def _sentence_counts(vectorizer: Any, tokens: list[str]) -> Any:
    """The whole message's counts, as Rasa's featurizer makes them."""
    text = " ".join(tokens)
    if _WORD_COUNTS not in vectorizer.__dict__:  # decided once per vectorizer
        vectorizer.__dict__[_WORD_COUNTS] = (
            WordCounts(vectorizer) if WordCounts.applies_to(vectorizer) else None)
    words: WordCounts | None = vectorizer.__dict__[_WORD_COUNTS]
    return _counts(vectorizer, [text]) if words is None else words.of_text(text)


class _CountingTokensWhenRead(CountVectorsFeaturizer):
    """Holds the `process` that install() puts in CountVectorsFeaturizer's place. A method, so
    its `self` has no annotation: Rasa's graph validation reads the annotated parameters of a
    component's `process` as inputs the graph must provide."""

    def process(self, messages: list[Message]) -> list[Message]:
        """Rasa's CountVectorsFeaturizer.process (3.6.21), with the sequence features lazy."""
        if self.vectorizers is None:
            processed: list[Message] = ORIGINAL_COUNT_VECTORS_PROCESS(self, messages)
            return processed
        for message in messages:
            for attribute in self._attributes:
                tokens = self._get_processed_message_tokens_by_attribute(message, attribute)
                vectorizer = self.vectorizers.get(attribute)
                if not vectorizer or not tokens:
                    continue  # Rasa adds no features then either
                message.add_features(LazyFeatures(
                    functools.partial(_counts, vectorizer, tokens),
                    FEATURE_TYPE_SEQUENCE, attribute, self._identifier))
                if attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
                    message.add_features(Features(
                        _sentence_counts(vectorizer, tokens),
                        FEATURE_TYPE_SENTENCE, attribute, self._identifier))
        return messages


PROCESS_COUNTING_TOKENS_WHEN_READ = _CountingTokensWhenRead.process


def install() -> None:
    """Puts them in place of Rasa's code (addons/__init__.py; not with TRIAGE_RASA_SPEEDUPS=0)."""
    RulePolicy._get_possible_keys = _indexed_possible_keys
    RemoteAction._validate_action_result = _validate_action_result_once
    # The processor names the runner class when it loads a model.
    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner
    Domain.states_for_tracker_history = _cached_states_for_tracker_history
    _fill_event_classes()
    Event.resolve_by_type = staticmethod(_resolve_event_type)
    DialogueStateTracker.copy = _copy_tracker
    for module in COPIES_ONLY_FOR_DEBUG_LOGS:
        module.copy = _CopyForDebugLogs()
    Domain.is_empty = _is_empty_once
    CountVectorsFeaturizer.process = PROCESS_COUNTING_TOKENS_WHEN_READ
