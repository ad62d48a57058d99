"""addons/fast_diet.py against Rasa's own TensorFlow layers, without a trained model (the
trained model is compared message by message in tests/e2e/test_fast_diet_model.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scipy.sparse
import tensorflow as tf
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.layers import DenseForSparse, RandomlyConnectedDense

from addons import fast_diet

LEAN = {
    "intent_classification": True,
    "entity_recognition": False,
    "number_of_transformer_layers": 0,
    "model_confidence": "softmax",
    "similarity_type": "inner",
}


def test_gelu_is_tensorflows() -> None:
    x = np.linspace(-8, 8, 2001, dtype=np.float32)
    assert np.allclose(fast_diet.gelu(x), tf.nn.gelu(x).numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "change",
    [
        {"number_of_transformer_layers": 2},
        {"number_of_transformer_layers": {"text": 1, "label": 0}},
        {"entity_recognition": True},
        {"intent_classification": False},
        {"model_confidence": "linear_norm"},
        {"similarity_type": "cosine"},
    ],
)
def test_other_diets_keep_rasas_prediction(change: dict[str, Any]) -> None:
    assert fast_diet.supported(LEAN)
    assert fast_diet.supported({**LEAN, "number_of_transformer_layers": {"text": 0}})
    assert not fast_diet.supported({**LEAN, **change})


def sentence_features(message: Message, *matrices: scipy.sparse.spmatrix) -> None:
    for number, matrix in enumerate(matrices):
        origin = f"featurizer{number}"
        message.add_features(Features(matrix, FEATURE_TYPE_SENTENCE, TEXT, origin))
        # Token-level features are there too, and must be ignored.
        tokens = scipy.sparse.random(3, matrix.shape[1], density=0.3, format="coo")
        message.add_features(Features(tokens, FEATURE_TYPE_SEQUENCE, TEXT, origin))


def test_confidences_are_those_of_rasas_layers() -> None:
    """Rasa's sparse-to-dense, randomly connected GELU and embedding layers with random
    weights, on a message whose sentence features come from two featurizers."""
    tf.random.set_seed(7)
    rng = np.random.default_rng(7)
    sizes = (30, 50)
    sparse_to_dense = DenseForSparse(units=16)
    sparse_to_dense.build((None, sum(sizes)))
    hidden = RandomlyConnectedDense(units=12, density=0.4, activation=tf.nn.gelu)
    hidden.build((None, 16))
    embed = tf.keras.layers.Dense(units=6)
    embed.build((None, 12))
    for layer in (sparse_to_dense, hidden, embed):  # non-zero biases, as after training
        layer.bias.assign(rng.normal(size=layer.bias.shape).astype(np.float32))
    labels = rng.normal(size=(5, 6)).astype(np.float32)
    model = fast_diet.NumpyIntents(
        fast_diet._weights(sparse_to_dense),
        [(*fast_diet._weights(hidden), fast_diet.gelu)],
        fast_diet._weights(embed),
        labels,
        [],
    )
    for _ in range(20):
        message = Message(data={TEXT: "x"})
        parts = [
            scipy.sparse.random(1, size, density=0.2, format="coo", random_state=rng,
                                data_rvs=lambda n: np.asarray(rng.integers(1, 4, n), float))
            for size in sizes
        ]
        sentence_features(message, *parts)
        counts = scipy.sparse.hstack(parts).tocoo()
        tensor = tf.SparseTensor(
            np.stack([counts.row, counts.col], axis=1).astype(np.int64),
            counts.data.astype(np.float32),
            counts.shape,
        )
        embedded = embed(hidden(sparse_to_dense(tensor)))
        expected = tf.nn.softmax(tf.reduce_sum(embedded[:, tf.newaxis, :] * labels, -1))
        got = model.confidences(message)
        assert got is not None and got.shape == (1, 5)
        assert np.allclose(got, expected.numpy(), atol=1e-6)


def numpy_model(inputs: int) -> fast_diet.NumpyIntents:
    eye = np.eye(inputs, 4, dtype=np.float32)
    return fast_diet.NumpyIntents(
        (eye, np.zeros(4, np.float32)), [], (np.eye(4, dtype=np.float32), np.zeros(4, np.float32)),
        np.eye(3, 4, dtype=np.float32), [],
    )


def classifier(model: fast_diet.NumpyIntents, diagnostic: bool = False) -> Any:
    context = SimpleNamespace(should_add_diagnostic_data=diagnostic)
    fake = SimpleNamespace(_execution_context=context)
    setattr(fake, fast_diet._ATTRIBUTE, model)
    return fake


@pytest.fixture
def rasas(monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    called: list[Message] = []

    def original(self: Any, message: Message) -> dict[str, Any]:
        called.append(message)
        return {"i_scores": "rasa's"}

    monkeypatch.setattr(fast_diet, "ORIGINAL_PREDICT", original)
    return called


def test_prediction_uses_numpy(rasas: list[Message]) -> None:
    message = Message(data={TEXT: "x"})
    sentence_features(message, scipy.sparse.coo_matrix(np.array([[0, 3, 0, 0, 0, 0]])))
    out = fast_diet._predict(classifier(numpy_model(6)), message)
    assert not rasas
    # The second input unit goes to the second intent.
    assert int(np.argmax(out["i_scores"])) == 1


@pytest.mark.parametrize("case", ["no features", "wrong size", "diagnostic data"])
def test_prediction_falls_back_to_rasa(case: str, rasas: list[Message]) -> None:
    message = Message(data={TEXT: "x"})
    if case != "no features":
        size = 5 if case == "wrong size" else 6
        sentence_features(message, scipy.sparse.coo_matrix(np.ones((1, size))))
    out = fast_diet._predict(classifier(numpy_model(6), case == "diagnostic data"), message)
    assert out == {"i_scores": "rasa's"} and rasas == [message]


def test_install_replaces_diets_prediction() -> None:
    # addons/__init__.py installs it when imported (unless TRIAGE_RASA_SPEEDUPS=0).
    assert DIETClassifier._predict is fast_diet._predict
