"""DIET's intent prediction for this project's lean DIET, in numpy instead of TensorFlow.

config.yml's DIETClassifier has no transformer layers and no entity recognition. For such a
model the intent depends only on the message's sentence-level sparse features (the two
CountVectorsFeaturizers' counts): Rasa's TensorFlow graph turns them into a dense vector
(sparse-to-dense layer), applies the hidden layer (GELU), embeds the result and takes the
softmax of its dot products with the intent embeddings. The token-level features go through
the same layers position by position, but with no transformer to mix positions, they never
reach the sentence position that DIET classifies.

Calling TensorFlow for that took 2.7 to 3.8 ms per message under load (docs/benchmark.md),
almost all of it TensorFlow's per-call cost and Rasa building its batch; the same arithmetic in
numpy with the model's own weights takes about 0.2 ms. The confidences match Rasa's to within
float32 rounding (tests/e2e/test_fast_diet_model.py compares both on every training and
held-out message).

Any other DIET (transformer layers, entities, dense features, other similarity or confidence
settings, diagnostic data asked for) keeps Rasa's own prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.special
import tensorflow as tf
import threadpoolctl
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import (
    ENTITY_RECOGNITION,
    FEATURIZERS,
    INNER,
    INTENT_CLASSIFICATION,
    MODEL_CONFIDENCE,
    NUM_TRANSFORMER_LAYERS,
    SIMILARITY_TYPE,
    SOFTMAX,
)
from rasa.utils.tensorflow.layers import RandomlyConnectedDense

# Rasa's own, kept for the fall-back, the tests and TRIAGE_RASA_SPEEDUPS=0.
ORIGINAL_PREDICT = DIETClassifier._predict

# The instance attribute holding a classifier's numpy model (None: use Rasa's prediction).
_ATTRIBUTE = "_triage_numpy_intents"

Array = npt.NDArray[np.float32]
Layer = tuple[Array, Array, Callable[[Array], Array] | None]


def gelu(x: Array) -> Array:
    """tf.nn.gelu with approximate=False, Rasa's activation for hidden layers."""
    return np.asarray(0.5 * x * (1.0 + scipy.special.erf(x / np.float32(np.sqrt(2.0)))))


def _transformer_layers(config: dict[str, Any]) -> int:
    layers = config[NUM_TRANSFORMER_LAYERS]
    return int(layers[TEXT] if isinstance(layers, dict) else layers)


def supported(config: dict[str, Any]) -> bool:
    """Whether a DIET of this configuration classifies from sentence features alone, in a way
    NumpyIntents computes."""
    return (
        bool(config[INTENT_CLASSIFICATION])
        and not config[ENTITY_RECOGNITION]
        and _transformer_layers(config) == 0
        and config[MODEL_CONFIDENCE] == SOFTMAX
        and config[SIMILARITY_TYPE] == INNER
    )


def _weights(layer: Any) -> tuple[Array, Array]:
    kernel = layer.kernel
    mask = getattr(layer, "kernel_mask", None)
    if mask is not None:  # RandomlyConnectedDense applies its mask on every call
        kernel = kernel * mask
    return np.asarray(kernel.numpy(), np.float32), np.asarray(layer.bias.numpy(), np.float32)


class NumpyIntents:
    """The sentence-position forward pass of a trained lean DIET model."""

    def __init__(
        self,
        sparse_to_dense: tuple[Array, Array],
        hidden: list[Layer],
        embed: tuple[Array, Array],
        label_embeddings: Array,
        featurizers: list[str],
    ) -> None:
        self.sparse_kernel, self.sparse_bias = sparse_to_dense
        self.hidden = hidden
        self.embed_kernel, self.embed_bias = embed
        self.labels = label_embeddings  # (number of intents, embedding size)
        self.featurizers = featurizers

    @classmethod
    def from_model(cls, model: Any, config: dict[str, Any]) -> NumpyIntents | None:
        """The numpy version of a loaded DIET model, or None when it does not fit."""
        if not supported(config):
            return None
        signature = model.data_signature.get(TEXT, {}).get(FEATURE_TYPE_SENTENCE, [])
        if not signature or not all(feature.is_sparse for feature in signature):
            return None
        sequence_layer = model._tf_layers[f"sequence_layer.{TEXT}"]
        combining = sequence_layer._tf_layers[sequence_layer.FEATURE_COMBINING]
        if f"unify_dims_before_seq_sent_concat.{FEATURE_TYPE_SENTENCE}" in combining._tf_layers:
            return None
        sentence = combining._tf_layers[f"sparse_dense.{FEATURE_TYPE_SENTENCE}"]
        hidden: list[Layer] = []
        for layer in sequence_layer._tf_layers[sequence_layer.FFNN]._ffn_layers:
            if isinstance(layer, tf.keras.layers.Dropout):
                continue  # inactive when predicting
            if not isinstance(layer, RandomlyConnectedDense):
                return None
            if layer.activation is tf.nn.gelu:
                activation: Callable[[Array], Array] | None = gelu
            elif layer.activation is tf.keras.activations.linear:
                activation = None
            else:
                return None
            hidden.append((*_weights(layer), activation))
        labels = np.asarray(model.all_labels_embed.numpy(), np.float32)
        return cls(
            _weights(sentence._tf_layers[sentence.SPARSE_TO_DENSE]),
            hidden,
            _weights(model._tf_layers[f"embed.{TEXT}"]._dense),
            labels.reshape(-1, labels.shape[-1]),
            list(config[FEATURIZERS] or []),
        )

    def confidences(self, message: Message) -> Array | None:
        """Softmax confidences for each intent, in DIET's label order (shape (1, intents)),
        or None when the message has no sentence features of the right size."""
        columns, values, offset = [], [], 0
        # The order of Message.get_sparse_features: the featurizers' order in the pipeline.
        for feature in message.features:
            if (
                feature.attribute == TEXT
                and feature.type == FEATURE_TYPE_SENTENCE
                and feature.is_sparse()
                and (not self.featurizers or feature.origin in self.featurizers)
            ):
                matrix = feature.features.tocoo()
                columns.append(matrix.col + offset)
                values.append(matrix.data)
                offset += matrix.shape[1]
        if not columns or offset != self.sparse_kernel.shape[0]:
            return None
        counts = np.concatenate(values).astype(np.float32)
        x = counts @ self.sparse_kernel[np.concatenate(columns)] + self.sparse_bias
        for kernel, bias, activation in self.hidden:
            x = x @ kernel + bias
            if activation is not None:
                x = activation(x)
        embedded = x @ self.embed_kernel + self.embed_bias
        similarities = self.labels @ embedded
        return np.asarray(scipy.special.softmax(similarities)[np.newaxis, :], np.float32)


def numpy_intents(classifier: DIETClassifier) -> NumpyIntents | None:
    """The classifier's numpy model, built on first use once the model is ready to predict."""
    if _ATTRIBUTE in classifier.__dict__:
        fast: NumpyIntents | None = classifier.__dict__[_ATTRIBUTE]
        return fast
    model = classifier.model
    if model is None or model.all_labels_embed is None:
        return None  # not trained or loaded yet: Rasa's prediction says what to do
    fast = NumpyIntents.from_model(model, classifier.component_config)
    if fast is not None:
        _one_blas_thread()
    setattr(classifier, _ATTRIBUTE, fast)
    return fast


def _one_blas_thread() -> None:
    """OpenBLAS would run these small products on a thread per core, and its threads spin
    after each one: under load they took a second core's worth of CPU from PostgreSQL, Redis
    and the other Rasa server. One thread is faster for matrices this size. Only in processes
    that predict (a server, `rasa test`), not in training."""
    threadpoolctl.threadpool_limits(limits=1, user_api="blas")


def _predict(self: DIETClassifier, message: Message) -> Any:
    fast = None if self._execution_context.should_add_diagnostic_data else numpy_intents(self)
    if fast is not None:
        confidences = fast.confidences(message)
        if confidences is not None:
            return {"i_scores": confidences}
    return ORIGINAL_PREDICT(self, message)


def install() -> None:
    """Puts the numpy prediction in place of Rasa's (addons/__init__.py)."""
    DIETClassifier._predict = _predict
