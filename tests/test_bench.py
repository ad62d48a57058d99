"""Pieces of `make bench` (scripts/bench/) whose mistakes would go unseen in its figures: the
percentiles it reports, where the profile puts a sample, what its counting setups serve and
what it says counting costs."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from scripts.bench.load import percentile, ratio
from scripts.bench.profile import summarise_profile
from scripts.bench.settings import ROOT


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


def test_the_counting_setups_serve_make_runs_and_productions_stores_and_the_others_count_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scripts.bench import setups

    monkeypatch.setattr(setups, "BENCH_DIR", tmp_path)
    bench = setups.Bench(setups.Durations(), redis=None)
    model = tmp_path / "model.tar.gz"

    counted = yaml.safe_load(bench.endpoints(setups.Setup("t", "", "triage", model)).read_text())
    made_run = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    assert counted["tracker_store"]["type"] == made_run["tracker_store"]["type"] \
        == "addons.counting.CountingInMemoryTrackerStore"
    assert counted["tracker_store"]["counts_db"] == str(tmp_path / "counts.t.sqlite")
    assert counted["nlg"] == made_run["nlg"]
    assert counted["action_endpoint"]["url"].endswith(f":{bench.actions_port}/webhook")

    plain = yaml.safe_load(bench.endpoints(
        setups.Setup("t-nocount", "", "triage", model, counting=False)).read_text())
    assert "tracker_store" not in plain and plain["nlg"] == made_run["nlg"]

    production = bench.endpoints(
        setups.Setup("p", "", "triage", model, redis=True, production=True)).read_text()
    assert production == (ROOT / "endpoints.production.yml").read_text()
    not_counting = yaml.safe_load(bench.endpoints(setups.Setup(
        "p-nocount", "", "triage", model, redis=True, production=True,
        counting=False)).read_text())
    assert not_counting["tracker_store"]["type"] == \
        "addons.tracker_store.RedactingSQLTrackerStore"
    assert not_counting["tracker_store"]["retention_minutes"] == \
        yaml.safe_load(production)["tracker_store"]["retention_minutes"]


def test_the_cost_of_counting_is_the_extra_cpu_per_message() -> None:
    from scripts.bench.__main__ import counting_cost

    def measured(cpu_ms: float) -> Any:
        return SimpleNamespace(server_cpu_ms_per_message=cpu_ms)

    rows = counting_cost({"t": measured(6.3), "t-nocount": measured(6.0)},
                         [("t", "t-nocount"), ("p", "p-nocount")])
    assert len(rows) == 1 and rows[0]["setup"] == "t"
    assert rows[0]["extra"] == pytest.approx(0.05)
