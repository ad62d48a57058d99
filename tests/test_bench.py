"""Pieces of `make bench` (scripts/bench/) whose mistakes would go unseen in its figures: the
percentiles it reports and where the profile puts a sample."""

from __future__ import annotations

import math

from scripts.bench.load import percentile, ratio
from scripts.bench.profile import summarise_profile


def test_percentiles_interpolate_between_closest_ranks() -> None:
    latencies = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(latencies, 50) == 30.0
    assert percentile(latencies, 95) == 48.0
    assert percentile([5.0], 95) == 5.0
    assert math.isnan(percentile([], 50))


def test_a_ratio_of_missing_figures_is_no_ratio() -> None:
    assert ratio(10.0, 4.0) == 2.5
    assert ratio(10.0, 0.0) is None
    assert ratio(float("nan"), 1.0) is None


def test_a_sample_counts_for_the_deepest_component_that_called_library_code() -> None:
    raw = "\n".join([
        # DIET's TensorFlow call counts for DIET, not for TensorFlow.
        "run (rasa/engine/graph.py:1);process (rasa/nlu/classifiers/diet_classifier.py:2);"
        "call (tensorflow/python/eager/def_function.py:3) 3",
        "handle_request (sanic/app.py:4) 1",
    ])
    report = summarise_profile(raw, cpu_ms_per_message=8.0)
    assert report["samples"] == 4
    diet = report["categories"]["NLU: DIETClassifier (TensorFlow)"]
    assert diet == {"share": 0.75, "cpu_ms_per_message": 6.0}
    assert report["categories"]["Sanic: HTTP, routing, event loop"]["share"] == 0.25
