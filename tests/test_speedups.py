"""addons/speedups.py gives the same answers as the Rasa code it replaces.

The bot's own conversations run through them in test-stories, test-e2e and test-conversations;
these tests compare each one with Rasa's code directly, on many more cases than the stories
reach. tests/e2e/test_speedups_model.py does the same for the graph runner on the trained model.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import pytest
import rasa.core.processor
import rasa.engine.validation
import rasa.shared.utils.io
import structlog
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
from rasa.engine.recipes.recipe import Recipe
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.core.constants import SHOULD_NOT_BE_SET
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.data import TrainingType
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.common import all_subclasses

from addons import speedups
from tests.helpers import ROOT

# --- RulePolicy: the indexed rule look-up against Rasa's ----------------------------------

INTENTS = ["greet", "emergency", "who_other", "danger_no", "nrm_consent", "affirm"]
ACTIONS = ["action_listen", "utter_greet", "triage_form", "utter_emergency", "utter_what_next"]
SLOTS = ["danger", "who", "resource_category"]
LOOPS = ["triage_form", SHOULD_NOT_BE_SET]


def random_state(rng: random.Random, starter: bool, for_rule: bool) -> dict[str, Any]:
    state: dict[str, Any] = {}
    if not starter:
        if rng.random() < 0.1:
            state["prev_action"] = {"action_text": rng.choice(["hi", "help me"])}
        else:
            state["prev_action"] = {"action_name": rng.choice(ACTIONS)}
    if rng.random() < 0.7:
        intent = rng.choice(INTENTS)
        state["user"] = {"intent": intent}
        if rng.random() < 0.2:
            state["user"]["entities"] = ["uk_place"]
    elif rng.random() < 0.2:
        state["user"] = {"text": "something typed"}
    for slot in SLOTS:
        if rng.random() < 0.3:
            value = SHOULD_NOT_BE_SET if for_rule and rng.random() < 0.4 else (1.0,)
            state.setdefault("slots", {})[slot] = value
    if rng.random() < 0.3:
        name = rng.choice(LOOPS if for_rule else LOOPS[:1])
        state["active_loop"] = {"name": name}
    return state


def random_states(rng: random.Random, for_rule: bool) -> list[dict[str, Any]]:
    length = rng.randint(1, 4)
    starter = rng.random() < 0.2
    return [random_state(rng, starter and i == 0, for_rule) for i in range(length)]


@pytest.fixture
def rule_policy(tmp_path: Path) -> RulePolicy:
    storage: ModelStorage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    return RulePolicy.create(RulePolicy.get_default_config(), storage, Resource("rule"), context)


def test_the_indexed_rule_lookup_finds_exactly_the_rules_rasa_finds(
    rule_policy: RulePolicy,
) -> None:
    rng = random.Random(20261129)
    lookup = {
        json.dumps(random_states(rng, for_rule=True), sort_keys=True): rng.choice(ACTIONS)
        for _ in range(400)
    }
    matched = 0
    for _ in range(3000):
        states = random_states(rng, for_rule=False)
        expected = speedups.ORIGINAL_GET_POSSIBLE_KEYS(rule_policy, lookup, states)
        assert speedups._indexed_possible_keys(rule_policy, lookup, states) == expected
        matched += bool(expected)
    # The comparison means something only if many conversations do match some rule.
    assert matched > 300


def test_the_rule_index_follows_rules_removed_during_training(rule_policy: RulePolicy) -> None:
    last_turn = {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}
    rule = json.dumps([last_turn])
    lookup = {rule: "utter_greet"}
    assert speedups._indexed_possible_keys(rule_policy, lookup, [last_turn]) == {rule}
    del lookup[rule]  # RulePolicy.train drops a contradicting rule this way
    assert speedups._indexed_possible_keys(rule_policy, lookup, [last_turn]) == set()


# --- Graph runner: the sequential runner against dask ---------------------------------------


class Number(GraphComponent):
    """A node that gives its configured number, or adds up what it needs."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> Number:
        return cls(config)

    def provide(self) -> int:
        return int(self.config["value"])

    def add(self, **numbers: int) -> int:
        return sum(numbers.values()) * int(self.config.get("factor", 1))


def node(needs: dict[str, str], fn: str = "add", **config: Any) -> SchemaNode:
    return SchemaNode(needs=needs, uses=Number, fn=fn, constructor_name="create", config=config)


def diamond_schema() -> GraphSchema:
    # a feeds b and c, both feed d; e takes the run's input; f is not needed by d.
    return GraphSchema(
        {
            "a": node({}, fn="provide", value=2),
            "b": node({"x": "a"}, factor=3),
            "c": node({"x": "a"}, factor=5),
            "d": node({"x": "b", "y": "c", "z": "e"}, is_target=True),
            "e": node({"x": "__input__"}, factor=7),
            "f": node({"x": "d"}, factor=11, is_target=True),
        }
    )


@pytest.mark.parametrize("targets", [["d"], ["f"], ["d", "f"], ["e"], None])
def test_the_sequential_runner_gives_what_dask_gives(
    tmp_path: Path, targets: list[str] | None
) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(diamond_schema(), "test")
    sequential = speedups.SequentialGraphRunner(diamond_schema(), storage, context)
    dask_runner = DaskGraphRunner(diamond_schema(), storage, context)
    for value in (1, 4):
        inputs = {"__input__": value}
        got = sequential.run(inputs=inputs, targets=targets)
        assert got == dask_runner.run(inputs=inputs, targets=targets)
    # d = 2*3 + 2*5 + 4*7 with the last input
    assert sequential.run({"__input__": 4}, ["d"]) == {"d": 44}


def test_the_sequential_runner_refuses_an_input_named_like_a_node(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    runner = speedups.SequentialGraphRunner(
        diamond_schema(), storage, ExecutionContext(diamond_schema(), "test")
    )
    with pytest.raises(Exception, match="clashes with a node name"):
        runner.run({"__input__": "a"}, ["d"])


# --- Action server answers: the validator built once ----------------------------------------


def test_action_server_answers_are_checked_as_rasa_checks_them() -> None:
    action = RemoteAction.__new__(RemoteAction)  # the check uses no endpoint
    good = {"events": [{"event": "slot", "name": "resource_shown", "value": 3.0}],
            "responses": [{"text": "Legal support: ..."}]}
    assert speedups._validate_action_result_once(action, good) is True
    assert speedups.ORIGINAL_VALIDATE_ACTION_RESULT(action, good) is True
    bad = {"events": [{"event": "no_such_event"}], "responses": "not a list"}
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        speedups._validate_action_result_once(action, bad)


def test_importing_the_addons_puts_the_speedups_in_place() -> None:
    # The Rasa server imports the addons package (the channel) before it loads a model.
    assert RulePolicy._get_possible_keys is speedups._indexed_possible_keys
    assert RemoteAction._validate_action_result is speedups._validate_action_result_once
    assert rasa.core.processor.DaskGraphRunner is speedups.SequentialGraphRunner
    assert Event.resolve_by_type is speedups._resolve_event_type
    assert Domain.states_for_tracker_history is speedups._cached_states_for_tracker_history
    assert DialogueStateTracker.copy is speedups._copy_tracker
    assert Domain.is_empty is speedups._is_empty_once
    assert CountVectorsFeaturizer.process is speedups.PROCESS_COUNTING_TOKENS_WHEN_READ
    for module in speedups.COPIES_ONLY_FOR_DEBUG_LOGS:
        assert isinstance(module.copy, speedups._CopyForDebugLogs)


# --- Event classes: the table against Rasa's search -----------------------------------------


def test_every_event_type_resolves_to_the_class_rasa_finds() -> None:
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    for name in sorted(names):
        assert speedups._resolve_event_type(name) is speedups.ORIGINAL_RESOLVE_BY_TYPE(name)
    assert speedups._resolve_event_type("topic") is None
    assert speedups._resolve_event_type("no_such_event", default=UserUttered) is UserUttered
    with pytest.raises(ValueError, match="Unknown event name"):
        speedups._resolve_event_type("no_such_event")


def test_a_stored_conversation_reads_back_the_same() -> None:
    events = [
        ActionExecuted("action_listen"),
        UserUttered("hi", {"name": "greet", "confidence": 0.9}),
        ActionExecuted("utter_greet"),
        BotUttered("Hello"),
        SlotSet("danger", "no"),
        ActiveLoop("triage_form"),
        Restarted(),
    ]
    assert [Event.from_parameters(e.as_dict()) for e in events] == events


# --- Dialogue states: the cache against Rasa's replay -----------------------------------------


def test_dialogue_states_are_the_same_as_rasas_after_every_event() -> None:
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = DialogueStateTracker.from_events("states-test", [], slots=domain.slots)
    conversation = [
        ActionExecuted("action_listen"),
        UserUttered("hi", {"name": "greet", "confidence": 0.9}),
        ActionExecuted("utter_greet"),
        BotUttered("Hello"),
        ActionExecuted("action_listen"),
        UserUttered("/who_other", {"name": "who_other", "confidence": 1.0}),
        ActionExecuted("triage_form"),
        ActiveLoop("triage_form"),
        SlotSet("who", "other"),
        ActionExecuted("action_listen"),
        UserUttered("he has a knife", {"name": "emergency", "confidence": 1.0}),
        ActiveLoop(None),
        SlotSet("danger", "yes"),
        Restarted(),
        ActionExecuted("action_listen"),
    ]
    for event in conversation:
        tracker.update(event)
        for kwargs in STATE_OPTIONS:
            assert_same_states(domain, tracker, kwargs)


RULE_ONLY = {"rule_only_slots": ["resource_shown"], "rule_only_loops": ["triage_form"]}
STATE_OPTIONS: list[dict[str, Any]] = [
    {},
    {"ignore_rule_only_turns": True, "rule_only_data": RULE_ONLY},
    {"omit_unset_slots": True, "rule_only_data": RULE_ONLY},
]


def assert_same_states(domain: Domain, tracker: DialogueStateTracker, kwargs: Any) -> None:
    expected = speedups.ORIGINAL_STATES_FOR_TRACKER_HISTORY(domain, tracker, **kwargs)
    got = speedups._cached_states_for_tracker_history(domain, tracker, **kwargs)
    assert got == expected, [type(e).__name__ for e in tracker.events]
    # A caller changing what it got must not change what the next caller gets.
    for state in got:
        state.get("user", {}).pop("intent", None)
        state.get("slots", {}).clear()
    again = speedups._cached_states_for_tracker_history(domain, tracker, **kwargs)
    assert again == expected


def random_event(rng: random.Random) -> Event:
    """Events of every kind the replay treats apart: actions (some hidden rule turns, the
    form's own), the form starting and stopping, user turns, slots, and the events that make
    Rasa drop or rewind applied events (restarts, session starts, reverts)."""
    intents = ["greet", "who_other", "emergency", "affirm", "deny", "ask_nrm"]
    kinds: list[Any] = [
        lambda: ActionExecuted("action_listen"),
        lambda: ActionExecuted(rng.choice(["utter_greet", "utter_ask_danger", "utter_999"]),
                               hide_rule_turn=rng.random() < 0.3),
        lambda: ActionExecuted("triage_form"),
        lambda: ActiveLoop(rng.choice(["triage_form", None])),
        lambda: UserUttered("x", {"name": rng.choice(intents), "confidence": 0.9}),
        lambda: SlotSet(rng.choice(["who", "danger", "resource_shown", "requested_slot"]),
                        rng.choice(["other", "yes", "no", None, 1.0])),
        lambda: BotUttered("text"),
        lambda: rng.choice([Restarted(), SessionStarted(), UserUtteranceReverted(),
                            ActionReverted()]),
        # The active loop changed in place: rejected, interrupted.
        lambda: rng.choice([ActionExecutionRejected("triage_form"), LoopInterrupted(True),
                            LoopInterrupted(False), FollowupAction("utter_greet")]),
    ]
    weights = [6, 6, 4, 2, 6, 4, 3, 1, 2]
    event: Event = rng.choices(kinds, weights)[0]()
    return event


@pytest.mark.parametrize("seed", range(6))
def test_dialogue_states_resume_as_rasas_replay_on_random_conversations(seed: int) -> None:
    """Like the test above, on random conversations of every kind of event, asked by each
    option set after every event (and sometimes not, so the replay skips events)."""
    domain = Domain.load(str(ROOT / "domain.yml"))
    rng = random.Random(seed)
    tracker = DialogueStateTracker.from_events("random-states", [], slots=domain.slots)
    for _ in range(120):
        tracker.update(random_event(rng))
        for kwargs in STATE_OPTIONS:
            if rng.random() < 0.7:
                assert_same_states(domain, tracker, kwargs)
    for kwargs in STATE_OPTIONS:
        assert_same_states(domain, tracker, kwargs)


# --- Copies of a conversation: against Rasa's replay ------------------------------------------


def comparable_tracker(tracker: DialogueStateTracker) -> Any:
    slots = {name: (slot.value, slot.has_been_set) for name, slot in tracker.slots.items()}
    return (tracker.current_state(EventVerbosity.ALL), slots, tracker.active_loop,
            tracker.latest_action, tracker.followup_action, tracker.is_paused())


@pytest.mark.parametrize("seed", range(4))
def test_a_copied_conversation_is_what_rasas_replay_gives(seed: int) -> None:
    """After every event of a random conversation: the copy equals Rasa's copy, and the same
    new events on both copies give equal trackers and leave the original as it was."""
    domain = Domain.load(str(ROOT / "domain.yml"))
    rng = random.Random(seed)
    tracker = DialogueStateTracker.from_events("copies", [], slots=domain.slots)
    for _ in range(80):
        tracker.update(random_event(rng))
        before = comparable_tracker(tracker)
        ours, theirs = speedups._copy_tracker(tracker), speedups.ORIGINAL_COPY(tracker)
        assert comparable_tracker(ours) == comparable_tracker(theirs)
        more = [random_event(rng) for _ in range(3)]
        for event in more:
            ours.update(event)
            theirs.update(event)
        assert comparable_tracker(ours) == comparable_tracker(theirs)
        assert comparable_tracker(tracker) == before
        assert len(tracker.events) + 3 == len(ours.events)


def test_a_tracker_with_a_capped_history_is_copied_by_rasas_replay() -> None:
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = DialogueStateTracker.from_events(
        "capped", [SlotSet("who", "other"), ActionExecuted("action_listen"),
                   ActionExecuted("utter_greet")], slots=domain.slots, max_event_history=2)
    # The slot event has fallen off the history: Rasa's copy forgets the slot.
    assert speedups._copy_tracker(tracker).get_slot("who") is None
    assert tracker.get_slot("who") == "other"


# --- Copies only for debug logs ---------------------------------------------------------------


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_values_for_debug_logs_are_copied_only_when_debug_logs_are_on(level: int) -> None:
    saved = structlog.get_config()
    try:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))
        value = [{"slot": ["a"]}]
        got = rasa.core.processor.copy.deepcopy(value)
        assert got == value
        assert (got is value) == (level > logging.DEBUG)
    finally:
        structlog.configure(**saved)


def test_rasa_modules_deep_copy_only_for_debug_logs() -> None:
    """Every copy.deepcopy() in the modules given the debug-log copy is an argument of a
    structlogger.debug() call (checked in the pinned Rasa's source)."""
    for module in speedups.COPIES_ONLY_FOR_DEBUG_LOGS:
        source = Path(str(module.__file__)).read_text(encoding="utf-8").splitlines()
        uses = [n for n, line in enumerate(source) if "copy." in line and "import" not in line]
        assert uses, module.__name__
        for n in uses:
            assert "copy.deepcopy(" in source[n], (module.__name__, source[n])
            call = "\n".join(source[max(0, n - 6):n + 1])
            assert "structlogger.debug(" in call, (module.__name__, n + 1)


def test_the_domain_answers_whether_it_is_empty_as_rasa_does() -> None:
    domain = Domain.load(str(ROOT / "domain.yml"))
    assert speedups._is_empty_once(domain) is speedups.ORIGINAL_IS_EMPTY(domain) is False
    assert speedups._is_empty_once(domain) is False  # kept
    empty = Domain.empty()
    assert speedups._is_empty_once(empty) is speedups.ORIGINAL_IS_EMPTY(empty) is True


# --- CountVectorsFeaturizer: token counts made when read ------------------------------------


def _featurizer(tmp_path: Path, config: dict[str, Any]) -> tuple[Any, WhitespaceTokenizer]:
    storage: ModelStorage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    examples = [Message(data={"text": text, "intent": intent}) for text, intent in [
        ("he took my passport", "report_self"), ("my friend works for no pay", "report_other"),
        ("what are the signs", "ask_signs"), ("can i refer without consent", "nrm_consent"),
    ]]
    data = TrainingData(examples)
    tokenizer.process_training_data(data)
    featurizer = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), **config}, storage,
        Resource("cvf"), context)
    featurizer.train(data)
    return featurizer, tokenizer


@pytest.mark.parametrize("config", [{}, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}])
def test_count_features_are_rasas_when_read(tmp_path: Path, config: dict[str, Any]) -> None:
    featurizer, tokenizer = _featurizer(tmp_path, config)
    texts = ["my boss took my passport", "signs???", "unknownword only", "a",
             "My BOSS took\tmy  passport, my boss!", "İstanbul Ωmega naïve café 08000 121 700",
             "pay pay pay pay no pay", "x" * 300, "__place__ my friend works for no pay"]

    def featurized(process: Any) -> list[list[tuple[Any, ...]]]:
        messages = [Message(data={"text": text}) for text in texts]
        tokenizer.process(messages)
        process(featurizer, messages)
        return [[(f.type, f.attribute, f.origin, f.is_sparse(), f.features.toarray().tolist())
                 for f in message.features] for message in messages]

    lazy = featurized(speedups.PROCESS_COUNTING_TOKENS_WHEN_READ)
    remembered = featurized(speedups.PROCESS_COUNTING_TOKENS_WHEN_READ)  # words counted before
    rasas = featurized(speedups.ORIGINAL_COUNT_VECTORS_PROCESS)
    assert lazy == rasas
    assert remembered == rasas
    assert any(row for row in lazy)


def test_token_counts_are_only_made_when_read(tmp_path: Path) -> None:
    featurizer, tokenizer = _featurizer(tmp_path, {})
    message = Message(data={"text": "my boss took my passport"})
    tokenizer.process([message])
    speedups.PROCESS_COUNTING_TOKENS_WHEN_READ(featurizer, [message])
    sequence = next(f for f in message.features if f.type == "sequence")
    assert isinstance(sequence, speedups.LazyFeatures) and sequence._make is not None
    assert sequence.features.shape[0] == 5  # one row per token, made now
    assert sequence._make is None


def test_rasa_validates_the_bots_pipeline_with_the_speedups_in_place() -> None:
    # Rasa checks each component's `process` signature before training: a replacement whose
    # `self` were annotated would be asked for a `self` input and training would stop.
    config = rasa.shared.utils.io.read_model_configuration(ROOT / "config.yml")
    recipe = Recipe.recipe_for_name(config.get("recipe"))
    model = recipe.graph_config_for_recipe(config, {}, training_type=TrainingType.BOTH)
    assert CountVectorsFeaturizer.process is speedups.PROCESS_COUNTING_TOKENS_WHEN_READ
    rasa.engine.validation.validate(model)


@pytest.mark.parametrize("config", [{}, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}])
def test_a_message_counted_word_by_word_is_counted_as_rasa_counts_it(
        tmp_path: Path, config: dict[str, Any]) -> None:
    featurizer, _ = _featurizer(tmp_path, config)
    vectorizer = featurizer.vectorizers["text"]
    assert speedups.WordCounts.applies_to(vectorizer)
    words = speedups.WordCounts(vectorizer)
    rng = random.Random(7)
    pieces = ["my", "boss", "took", "passport", "PAY", "no", "friend", "??", "a", "Ωmega",
              "unknown", "works", "for", "\t", "  ", "\n", "café"]
    for _ in range(300):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        mine, rasas = words.of_text(text), speedups._counts(vectorizer, [text])
        assert mine.shape == rasas.shape and mine.dtype == rasas.dtype
        assert mine.col.tolist() == rasas.col.tolist()
        assert mine.data.tolist() == rasas.data.tolist()


def test_word_counts_apply_only_where_words_add_up(tmp_path: Path) -> None:
    featurizer, _ = _featurizer(tmp_path, {"analyzer": "word", "min_ngram": 1, "max_ngram": 2})
    # "took my" is a feature of the whole message and of no word alone
    assert not speedups.WordCounts.applies_to(featurizer.vectorizers["text"])
