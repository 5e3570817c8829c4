"""eval.sequential: the confidence sequence's coverage by simulation, the stopping rule, and a
guard scored sequentially through run_benchmarks and the pipeline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from goaltune.config import GoalConfig, Thresholds
from goaltune.evaluate.benchmarks import run_benchmarks
from goaltune.evaluate.sequential import (
    ALPHA,
    SequentialGuards,
    confidence_sequence,
    decided_band,
    run_sequentially,
    sequential_guards,
)
from goaltune.run_folder import EvalResult, parse_record

SIMULATIONS = 2000
ITEMS = 400
# binomial slack on the observed error rate: three standard errors at the nominal rate
SLACK = 3 * math.sqrt(ALPHA * (1 - ALPHA) / SIMULATIONS)

# per-item change distributions: probabilities of -1, 0, +1 (and the true mean they imply)
CHANGES = {
    "mostly unchanged": (0.05, 0.90, 0.05),
    "a drop": (0.15, 0.80, 0.05),
    "coin flips": (0.5, 0.0, 0.5),
    "a large drop": (0.45, 0.50, 0.05),
}


def _samples(probabilities: tuple[float, float, float], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 0.0, 1.0], p=probabilities, size=(SIMULATIONS, ITEMS))


@pytest.mark.parametrize("name", list(CHANGES))
def test_confidence_sequence_covers_at_every_look(name):
    """The true mean leaves the intervals at some look in at most alpha of the runs."""
    probabilities = CHANGES[name]
    true_mean = probabilities[2] - probabilities[0]
    misses = 0
    for changes in _samples(probabilities, seed=len(name)):
        low, high = confidence_sequence(changes)
        misses += bool(np.any((low > true_mean) | (high < true_mean)))
    assert misses / SIMULATIONS <= ALPHA + SLACK


def test_peeking_at_a_fixed_sample_interval_loses_coverage():
    """The same simulation catches an interval that is only valid at one fixed n: recomputing the
    normal 95% interval after every 10 items misses the true mean far more often than 5%."""
    misses = 0
    for changes in _samples(CHANGES["coin flips"], seed=3):
        n = np.arange(1, ITEMS + 1)
        mean = np.cumsum(changes) / n
        half = 1.96 * np.sqrt(np.maximum(np.cumsum(changes**2) / n - mean**2, 1e-12) / n)
        looks = slice(9, None, 10)
        misses += bool(np.any(np.abs(mean[looks]) > half[looks]))
    assert misses / SIMULATIONS > 3 * ALPHA


def test_intervals_only_tighten_and_contain_the_mean_of_a_constant_sequence():
    low, high = confidence_sequence([0.0] * 1000)
    assert np.all(np.diff(low) >= 0) and np.all(np.diff(high) <= 0)
    assert low[-1] < 0.0 < high[-1] and high[-1] - low[-1] < 0.05
    assert (low[0], high[0]) == (-1.0, 1.0)  # one item bounds nothing


def test_decided_band_follows_the_verdict_bands():
    t = Thresholds()
    assert decided_band([0.0] * 2000, t) == 0  # held within tradeoff_drop_points
    assert decided_band([-1.0] * 60 + [0.0] * 40, t) == 3  # a 60-point drop: investigate
    assert decided_band([0.0] * 20, t) is None  # too few items to tell
    # a 5-point drop sits on the edge of two bands, so no sample size decides it
    assert decided_band(([-1.0] + [0.0] * 19) * 200, t) is None


def test_run_sequentially_stops_once_decided_and_scores_in_a_seeded_order():
    items = [f"q{i}" for i in range(3000)]
    before = dict.fromkeys(items, 1.0)
    scored: list[list[str]] = []

    def score(chunk: list[str]) -> dict:
        scored.append(chunk)
        records = [{"id": item, "metrics": {"acc": 1.0}} for item in chunk]
        return {"primary_metric": "acc", "metrics": {"acc": {}}, "items": records}

    records, _, summary = run_sequentially(items, 100, score, before, Thresholds())
    assert summary["decided"] == "held" and summary["of"] == 3000
    assert summary["items"] == len(records) == 100 * len(scored) < 3000
    low, high = summary["interval_points"]
    assert -5.0 < low <= 0.0 <= high
    assert [r["id"] for r in records] != items[: len(records)]  # a random order, not the file's
    again, _, _ = run_sequentially(items, 100, score, before, Thresholds())
    assert [r["id"] for r in again] == [r["id"] for r in records]


def test_run_sequentially_scores_everything_when_undecided():
    items = [f"q{i}" for i in range(50)]
    before = dict.fromkeys(items, 1.0)

    def score(chunk: list[str]) -> dict:
        records = [{"id": item, "metrics": {"acc": 1.0}} for item in chunk]
        return {"primary_metric": "acc", "metrics": {"acc": {}}, "items": records}

    records, _, summary = run_sequentially(items, 16, score, before, Thresholds())
    assert summary["decided"] is None and summary["items"] == len(records) == 50


def _before(model, tokenizer, spec: str) -> EvalResult:
    results = run_benchmarks(
        model, tokenizer, [spec], batch_size=16, resamples=100, show_progress=False
    )
    return parse_record(EvalResult, {"benchmarks": results}, "before")


def test_a_guard_scored_sequentially_through_run_benchmarks(tiny_model_and_tokenizer):
    """The same model before and after: every change is 0, so with wide bands (30 points) the
    guard is decided on part of mc-mini's 112 items; its summaries cover exactly those."""
    model, tokenizer = tiny_model_and_tokenizer
    spec = "builtin:mc-mini"
    before = _before(model, tokenizer, spec)
    wide = Thresholds(tradeoff_drop_points=30, caution_drop_points=40, investigate_drop_points=50)
    plan = sequential_guards(GoalConfig(guard_benchmarks=[spec], thresholds=wide), before)
    assert isinstance(plan, SequentialGuards) and len(plan.before[spec]) == 112
    (result,) = run_benchmarks(
        model, tokenizer, [spec], batch_size=16, resamples=100, show_progress=False, sequential=plan
    ).values()
    stop = result["sequential"]
    assert stop["decided"] == "held" and stop["of"] == 112
    assert stop["items"] == len(result["items"]) < 112 and stop["items"] % 16 == 0
    assert result["metrics"]["acc"]["n"] == stop["items"]
    by_id = {item.id: item.metrics["acc"] for item in before.benchmarks[spec].items}
    assert all(item["metrics"]["acc"] == by_id[item["id"]] for item in result["items"])
    parsed = parse_record(EvalResult, {"benchmarks": {spec: result}}, "after")
    assert parsed.benchmarks[spec].sequential is not None


def test_the_pipeline_stops_a_guard_and_the_verdict_pairs_the_scored_items(
    tmp_path, tiny_model_dir
):
    from typer.testing import CliRunner

    from goaltune.cli import app
    from goaltune.run_folder import RunFolder
    from tests.conftest import only_run, write_config

    goal = {
        "purpose": "behavior",
        "task_metrics": ["exact_match"],
        "guard_benchmarks": ["builtin:mc-mini"],
        "thresholds": {
            "tradeoff_drop_points": 60,
            "caution_drop_points": 70,
            "investigate_drop_points": 80,
        },
    }
    config = write_config(tmp_path, tiny_model_dir, goal=goal)
    data = yaml.safe_load(config.read_text())
    data["eval"].update(benchmarks=["builtin:mc-mini"], sequential=True, batch_size=16)
    config.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["run", str(config), "--quiet"])
    assert result.exit_code == 0, result.output
    folder = RunFolder(only_run(tmp_path / "runs"))
    before, after = folder.read_eval("before"), folder.read_eval("after")
    stop = after.benchmarks["builtin:mc-mini"].sequential
    assert len(before.benchmarks["builtin:mc-mini"].items) == 112
    assert stop is not None and stop.decided == "held" and stop.items < 112
    assert after.settings["sequential"] is True and before.settings["sequential"] is False
    (guard,) = [d for d in folder.read_verdict().deltas if d.role == "guard"]
    assert guard.n == stop.items
