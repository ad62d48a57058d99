"""The trained model's intents, predicted by addons/fast_diet.py (numpy) and by Rasa's DIET
(TensorFlow), for every training and held-out message: the same intent, the same ranking and
the same confidences to within float32 rounding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import threadpoolctl
from rasa.core.agent import Agent
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.training_data.message import Message

from addons import fast_diet
from scripts.serve import DEFAULT_MODEL
from tests.helpers import nlu_blocks, plain

pytestmark = pytest.mark.e2e

# float32 sums in another order: the largest difference seen is below 1e-6.
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    yield Agent.load(str(DEFAULT_MODEL))


def diet_of(agent: Agent) -> DIETClassifier:
    assert agent.processor is not None
    for node in agent.processor.graph_runner._instantiated_nodes.values():
        if isinstance(node._component, DIETClassifier):
            return node._component
    raise AssertionError("the model has no DIETClassifier")


def all_messages() -> list[str]:
    texts: list[str] = []
    for folder in ("data/nlu", "tests/nlu"):
        for block, examples in nlu_blocks(folder):
            if "intent" in block:
                texts.extend(plain(text) for text in examples)
    return texts


def test_the_shipped_model_is_predicted_in_numpy(agent: Agent) -> None:
    """config.yml's DIET is one the numpy path supports: without this the server would quietly
    fall back to TensorFlow and lose the speed-up."""
    assert DIETClassifier._predict is fast_diet._predict
    assert fast_diet.numpy_intents(diet_of(agent)) is not None
    # ... on one BLAS thread (spinning BLAS threads took a core from the other processes).
    blas = [x for x in threadpoolctl.threadpool_info() if x["user_api"] == "blas"]
    assert blas and all(x["num_threads"] == 1 for x in blas)


def test_numpy_and_tensorflow_agree_on_every_message(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    diet = diet_of(agent)
    compared: list[tuple[str, Any, Any]] = []

    def both(self: DIETClassifier, message: Message) -> Any:
        ours = fast_diet._predict(self, message)
        theirs = fast_diet.ORIGINAL_PREDICT(self, message)
        compared.append(
            (message.get("text"), np.asarray(ours["i_scores"]), np.asarray(theirs["i_scores"]))
        )
        return theirs

    monkeypatch.setattr(DIETClassifier, "_predict", both)
    texts = all_messages()
    assert len(texts) > 2000  # the training data and the held-out set

    async def parse_all() -> None:
        for text in texts:
            await agent.parse_message(text)

    asyncio.run(parse_all())
    # Messages in another script or all-unknown words still reach DIET; each text once.
    assert len(compared) == len(texts)
    worst = 0.0
    for text, ours, theirs in compared:
        assert ours.shape == theirs.shape == (1, len(diet.index_label_id_mapping)), text
        assert int(ours.argmax()) == int(theirs.argmax()), text
        worst = max(worst, float(np.abs(ours - theirs).max()))
        # The ranking the parse shows: the same order, except between near-equal labels.
        order_ours, order_theirs = np.argsort(-ours[0]), np.argsort(-theirs[0])
        assert np.allclose(theirs[0][order_ours], theirs[0][order_theirs], atol=TOLERANCE), text
    assert worst < TOLERANCE


def test_parse_results_are_those_of_tensorflow(agent: Agent) -> None:
    """Whole parses (intent, ranking, entities, gates) for a few messages of each kind, with
    the numpy path and then with Rasa's."""
    texts = [
        "hi", "he's got a knife", "i think my neighbours are being kept as slaves",
        "what is the nrm", "legal help for survivors", "Glasgow", "asdfghjkl", "yes", "no",
        "ayuda por favor", "can i report anonymously",
    ]

    async def parse(text: str) -> Any:
        return await agent.parse_message(text)

    fast = [asyncio.run(parse(text)) for text in texts]
    DIETClassifier._predict = fast_diet.ORIGINAL_PREDICT
    try:
        slow = [asyncio.run(parse(text)) for text in texts]
    finally:
        DIETClassifier._predict = fast_diet._predict
    for ours, theirs in zip(fast, slow, strict=True):
        assert ours["intent"]["name"] == theirs["intent"]["name"], ours["text"]
        assert abs(ours["intent"]["confidence"] - theirs["intent"]["confidence"]) < TOLERANCE
        # The same readings with the same confidences. Readings within TOLERANCE of each other
        # (near 0) may swap places, and so swap in or out at the ranking's cut (10 readings).
        ours_ranking = {x["name"]: x["confidence"] for x in ours["intent_ranking"]}
        theirs_ranking = {x["name"]: x["confidence"] for x in theirs["intent_ranking"]}
        for one, other in ((ours_ranking, theirs_ranking), (theirs_ranking, ours_ranking)):
            cut = min(other.values())
            for name, confidence in one.items():
                expected = other.get(name, cut)
                assert abs(confidence - expected) < TOLERANCE, (ours["text"], name)
        assert ours["entities"] == theirs["entities"]
