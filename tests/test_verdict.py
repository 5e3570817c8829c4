"""The goal-based verdict: paired bootstrap, the decision table, and eval JSON handling."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goaltune.config import GoalConfig, config_from_dict, dump_config
from goaltune.deltas import MetricDelta, Role, metric_delta
from goaltune.diagnose import diagnose, forgetting_remedies
from goaltune.errors import RunError
from goaltune.evaluate.stats import paired_bootstrap
from goaltune.run_folder import (
    LossHistoryWriter,
    RunFolder,
    read_json,
    read_loss_history,
    write_json,
)
from goaltune.verdict import (
    FAILED,
    INVESTIGATE,
    NEEDS_TUNING,
    PROBLEM,
    SUCCESS,
    VERDICTS,
    build_verdict,
    decide,
    verdict_for_run,
)


def items(rate: float, n: int = 200, seed: int = 0) -> list[float]:
    """Exactly round(rate * n) ones; with the same seed the ones of a lower rate are a subset."""
    order = random.Random(seed).sample(range(n), n)
    ones = set(order[: round(rate * n)])
    return [1.0 if i in ones else 0.0 for i in range(n)]


def section(values: dict[str, list[float]], prefix: str) -> dict[str, Any]:
    """An eval section (metrics summary and per-item values) as in eval/before.json."""
    n = len(next(iter(values.values())))
    return {
        "metrics": {
            name: {"score": sum(v) / n, "n": n, "ci_low": 0.0, "ci_high": 1.0}
            for name, v in values.items()
        },
        "items": [
            {
                "id": f"{prefix}-{i:04d}",
                "prompt": "p",
                "output": "o",
                "metrics": {name: v[i] for name, v in values.items()},
            }
            for i in range(n)
        ],
    }


def evaluation(
    task: dict[str, list[float]] | None = None, benchmarks: dict[str, list[float]] | None = None
) -> dict[str, Any]:
    """A parsed eval JSON with the given task metrics and benchmarks (primary metric `acc`)."""
    return {
        "model": "base",
        "adapter": None,
        "settings": {"max_new_tokens": 16, "batch_size": 4, "greedy": True},
        "elapsed_s": 1.0,
        "task": {"name": "test", **section(task, "test")} if task else None,
        "benchmarks": {
            name: {"primary_metric": "acc", **section({"acc": v}, name)}
            for name, v in (benchmarks or {}).items()
        },
    }


def loss_rows(train: list[float]) -> list[dict[str, Any]]:
    return [
        {"step": i + 1, "epoch": (i + 1) / len(train), "train_loss": v, "val_loss": None}
        for i, v in enumerate(train)
    ]


def delta(name: str, role: Role, points: float, low: float, high: float) -> MetricDelta:
    """A delta of `points` around a 50% baseline with the given interval."""
    return MetricDelta(name, role, 0.5, 0.5 + points / 100, 200, points, low, high)


JSON_GOAL = GoalConfig(purpose="behavior", task_metrics=["json_valid"], guard_benchmarks=["ifeval"])


def json_run(json_after: float, ifeval_before: float, ifeval_after: float) -> dict[str, Any]:
    """Verdict of the JSON goal: json_valid from 60% to `json_after`, ifeval as given."""
    before = evaluation(
        {"json_valid": items(0.60, seed=1)}, {"ifeval": items(ifeval_before, seed=2)}
    )
    after = evaluation(
        {"json_valid": items(json_after, seed=1)}, {"ifeval": items(ifeval_after, seed=2)}
    )
    return build_verdict(JSON_GOAL, before, after).to_dict()


# --- paired bootstrap and MetricDelta -------------------------------------------------------


def test_paired_bootstrap_nested_drop_is_exact_and_excludes_zero() -> None:
    mean, low, high = paired_bootstrap(items(0.35, seed=2), items(0.28, seed=2))
    assert mean == pytest.approx(-7.0)
    assert -12 < low < mean < high < -2


def test_paired_bootstrap_identical_is_zero_and_deterministic() -> None:
    values = items(0.5, seed=3)
    assert paired_bootstrap(values, values) == (0.0, 0.0, 0.0)
    a, b = items(0.4, seed=1), items(0.5, seed=9)
    assert paired_bootstrap(a, b, seed=5) == paired_bootstrap(a, b, seed=5)


def test_paired_bootstrap_rejects_unpaired_input() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap([1.0, 0.0], [1.0])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])


def test_change_is_within_noise_when_the_interval_touches_zero() -> None:
    assert delta("m", "task", 2.0, 0.0, 4.0).change == "within noise"
    assert delta("m", "task", -2.0, -4.0, 0.0).change == "within noise"
    assert delta("m", "task", 2.0, 0.1, 4.0).change == "gain"
    assert delta("m", "task", -2.0, -4.0, -0.1).change == "drop"


def test_metric_delta_to_dict_matches_run_folder_format() -> None:
    d = metric_delta("json_valid", "task", items(0.31, 100, 1), items(0.98, 100, 1), target=0.95)
    payload = d.to_dict()
    assert list(payload) == [
        "name",
        "role",
        "before",
        "after",
        "n",
        "delta_points",
        "ci_low_points",
        "ci_high_points",
        "change",
        "target",
        "target_reached",
    ]
    assert payload["before"] == 0.31 and payload["after"] == 0.98 and payload["n"] == 100
    assert payload["delta_points"] == 67.0
    assert payload["change"] == "gain" and payload["target_reached"] is True
    assert metric_delta("x", "guard", [1.0], [1.0]).target_reached is None


# --- the required decision cases ------------------------------------------------------------


def test_json_goal_with_ifeval_drop_is_a_tradeoff_success() -> None:
    verdict = json_run(0.98, 0.35, 0.28)
    assert verdict["verdict"] == SUCCESS and verdict["caution"] is False
    assert verdict["headline"].startswith("json_valid rose 38 points (CI ")
    assert "ifeval fell 7 points: a trade-off, not a failure." in verdict["headline"]
    assert any("trade-off" in r for r in verdict["reasons"])
    changes = {d["name"]: d["change"] for d in verdict["deltas"]}
    assert changes == {"json_valid": "gain", "ifeval": "drop"}
    assert set(forgetting_remedies()) <= set(verdict["recommendations"])


def test_domain_goal_small_mmlu_drop_with_domain_gain_is_success() -> None:
    goal = GoalConfig(purpose="domain", task_metrics=["domain-mc"], guard_benchmarks=["mmlu"])
    before = evaluation(benchmarks={"mmlu": items(0.42, seed=1), "domain-mc": items(0.35, seed=2)})
    after = evaluation(benchmarks={"mmlu": items(0.38, seed=1), "domain-mc": items(0.52, seed=2)})
    verdict = build_verdict(goal, before, after)
    assert verdict.verdict == SUCCESS and not verdict.caution
    roles = {d.name: (d.role, d.change) for d in verdict.deltas}
    assert roles == {"domain-mc": ("task", "gain"), "mmlu": ("guard", "drop")}
    assert "trade-off" not in verdict.headline


def test_learning_goal_succeeds_despite_ifeval_drop_and_lists_lessons() -> None:
    goal = GoalConfig(purpose="learning", guard_benchmarks=["ifeval"])
    before = evaluation(benchmarks={"ifeval": items(0.36, seed=4)})
    after = evaluation(benchmarks={"ifeval": items(0.22, seed=4)})
    still_falling = loss_rows([2.0 - i / 100 for i in range(100)])
    verdict = build_verdict(goal, before, after, loss_rows=still_falling)
    assert verdict.verdict == SUCCESS
    assert any("one epoch was not enough" in r for r in verdict.reasons)
    assert any(r.startswith("Observation: ifeval fell 14 points") for r in verdict.reasons)
    assert "Train longer: raise num_train_epochs or max_steps." in verdict.recommendations


def test_tone_goal_with_unchanged_benchmarks_is_success() -> None:
    goal = GoalConfig(purpose="behavior", task_metrics=["tone"])
    benchmarks = {"ifeval": items(0.35, seed=1), "mmlu": items(0.45, seed=2)}
    before = evaluation({"tone": items(0.40, seed=3)}, benchmarks)
    after = evaluation({"tone": items(0.75, seed=3)}, benchmarks)
    verdict = build_verdict(goal, before, after)
    assert verdict.verdict == SUCCESS and not verdict.caution
    assert [d.name for d in verdict.deltas if d.role == "guard"] == ["ifeval", "mmlu"]
    assert "guard benchmarks held" in verdict.headline


def test_benchmark_goal_with_drops_and_no_gain_needs_tuning() -> None:
    goal = GoalConfig(purpose="benchmark", task_metrics=["mmlu"])
    before = evaluation(benchmarks={"mmlu": items(0.50, seed=1), "arc": items(0.40, seed=2)})
    after = evaluation(benchmarks={"mmlu": items(0.35, seed=1), "arc": items(0.25, seed=2)})
    verdict = build_verdict(goal, before, after)
    assert verdict.verdict == NEEDS_TUNING
    assert any(r.startswith("Sharpen the goal") for r in verdict.recommendations)
    assert {d.name: d.role for d in verdict.deltas} == {"mmlu": "task", "arc": "guard"}


def test_domain_goal_with_everything_down_is_a_problem() -> None:
    goal = GoalConfig(purpose="domain", task_metrics=["domain"], guard_benchmarks=["mmlu"])
    before = evaluation({"domain": items(0.50, seed=1)}, {"mmlu": items(0.50, seed=2)})
    after = evaluation({"domain": items(0.40, seed=1)}, {"mmlu": items(0.30, seed=2)})
    assert build_verdict(goal, before, after).verdict == PROBLEM


def test_drop_over_twenty_points_with_gain_is_investigate() -> None:
    verdict = json_run(0.98, 0.50, 0.25)
    assert verdict["verdict"] == INVESTIGATE and verdict["caution"] is False
    assert "exceeds 20 points" in verdict["reasons"][-1]


def test_drop_between_fifteen_and_twenty_with_gain_is_cautious_success() -> None:
    verdict = json_run(0.98, 0.50, 0.33)
    assert verdict["verdict"] == SUCCESS and verdict["caution"] is True
    assert "between 15 and 20 points" in verdict["reasons"][-1]


def test_failed_training_is_failed_with_the_reason() -> None:
    verdict = build_verdict(JSON_GOAL, {}, {}, "failed", "train_loss became nan at step 12")
    assert verdict.verdict == FAILED and verdict.deltas == []
    assert verdict.headline == "Training failed: train_loss became nan at step 12."


def test_non_finite_loss_fails_even_when_marked_finished() -> None:
    train = [2.0, 1.8, float("nan"), 1.5, 1.4, 1.3]
    verdict = decide(JSON_GOAL, [], findings=diagnose(loss_rows(train)))
    assert verdict.verdict == FAILED
    assert "step 3" in verdict.headline


def test_within_noise_change_is_not_a_gain() -> None:
    before = evaluation({"json_valid": items(0.50, seed=1)}, {"ifeval": items(0.35, seed=2)})
    after = evaluation({"json_valid": items(0.53, seed=7)}, {"ifeval": items(0.35, seed=2)})
    verdict = build_verdict(JSON_GOAL, before, after)
    assert verdict.deltas[0].change == "within noise"
    assert verdict.verdict == INVESTIGATE
    assert "within noise" in verdict.headline


# --- further table rows ---------------------------------------------------------------------


def test_small_real_gain_counts_when_it_newly_reaches_the_target() -> None:
    goal = GoalConfig(task_metrics=[{"name": "json_valid", "target": 0.95}])
    d = metric_delta("json_valid", "task", items(0.93, 1000, 1), items(0.96, 1000, 1), 0.95)
    assert d.change == "gain" and d.delta_points < goal.thresholds.min_gain_points
    assert decide(goal, [d]).verdict == SUCCESS
    small_gain = delta("json_valid", "task", 3, 1, 5)
    assert decide(GoalConfig(task_metrics=["json_valid"]), [small_gain]).verdict == INVESTIGATE


def test_task_drop_with_guards_held_is_a_problem() -> None:
    deltas = [delta("json_valid", "task", -10, -15, -5), delta("ifeval", "guard", 0, -3, 3)]
    assert decide(JSON_GOAL, deltas).verdict == PROBLEM


def test_no_task_change_judged_on_guards() -> None:
    flat = delta("json_valid", "task", 1, -2, 4)
    assert decide(JSON_GOAL, [flat, delta("ifeval", "guard", 0, -3, 3)]).verdict == INVESTIGATE
    assert decide(JSON_GOAL, [flat, delta("ifeval", "guard", -9, -13, -5)]).verdict == NEEDS_TUNING


def test_no_task_metric_at_all_is_judged_on_guards_alone() -> None:
    goal = GoalConfig(purpose="behavior")
    held = decide(goal, [delta("ifeval", "guard", 0, -3, 3)])
    assert held.verdict == INVESTIGATE and held.headline.startswith("no task metric measured")
    dropped = decide(goal, [delta("ifeval", "guard", -9, -13, -5)])
    assert dropped.verdict == NEEDS_TUNING


def test_mixed_task_metrics_are_investigated() -> None:
    deltas = [delta("json_valid", "task", 30, 20, 40), delta("json_schema", "task", -10, -15, -5)]
    assert decide(JSON_GOAL, deltas).verdict == INVESTIGATE


def test_findings_recommendations_are_appended_without_duplicates() -> None:
    findings = diagnose(loss_rows([2.0 - i / 100 for i in range(100)]))
    verdict = decide(JSON_GOAL, [delta("json_valid", "task", 30, 20, 40)], findings=findings)
    assert verdict.recommendations[-1] == findings[-1].recommendation
    assert len(verdict.recommendations) == len(set(verdict.recommendations))


# --- eval JSON handling ---------------------------------------------------------------------


def test_items_pair_by_id_and_unmatched_items_are_ignored() -> None:
    before = evaluation({"json_valid": items(0.5, 100, 1)})
    after = evaluation({"json_valid": items(0.5, 100, 1)})
    after["task"]["items"] = list(reversed(after["task"]["items"][10:])) + [
        {"id": "extra", "metrics": {"json_valid": 1.0}}
    ]
    [d] = build_verdict(GoalConfig(), before, after).deltas
    assert d.n == 90 and d.delta_points == 0.0


def test_all_task_metrics_used_when_goal_names_none() -> None:
    values = {"json_valid": items(0.3, seed=1), "json_schema": items(0.2, seed=2)}
    verdict = build_verdict(GoalConfig(), evaluation(values), evaluation(values))
    assert [d.name for d in verdict.deltas] == ["json_valid", "json_schema"]


def test_missing_metric_or_benchmark_is_a_run_error() -> None:
    present = evaluation({"json_valid": items(0.3)}, {"mmlu": items(0.3)})
    with pytest.raises(RunError, match="'tone'"):
        build_verdict(GoalConfig(task_metrics=["tone"]), present, present)
    with pytest.raises(RunError, match="'ifeval'"):
        build_verdict(JSON_GOAL, present, present)
    with pytest.raises(RunError, match="both before and after"):
        build_verdict(GoalConfig(task_metrics=["json_valid"]), present, evaluation())


def test_verdict_to_dict_is_the_verdict_json_shape() -> None:
    payload = json_run(0.98, 0.35, 0.28)
    assert list(payload) == [
        "verdict",
        "caution",
        "purpose",
        "headline",
        "reasons",
        "deltas",
        "flips",
        "findings",
        "recommendations",
    ]
    json.dumps(payload, allow_nan=False)


# --- properties -----------------------------------------------------------------------------

unit = st.floats(min_value=0.0, max_value=1.0)
pairs = st.lists(st.tuples(unit, unit), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(pairs, st.integers(min_value=0, max_value=10))
def test_paired_bootstrap_is_finite_and_brackets_the_mean(data: list[tuple], seed: int) -> None:
    before, after = zip(*data)
    mean, low, high = paired_bootstrap(before, after, resamples=100, seed=seed)
    assert all(math.isfinite(x) for x in (mean, low, high))
    assert -100.0 <= low <= mean <= high <= 100.0


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["behavior", "domain", "learning", "benchmark"]),
    st.lists(st.tuples(pairs, st.one_of(st.none(), unit)), max_size=3),
    st.lists(pairs, max_size=3),
    st.sampled_from(["finished", "failed", "interrupted"]),
)
def test_decide_always_returns_a_valid_verdict(
    purpose: str, tasks: list[tuple], guards: list[list[tuple]], status: str
) -> None:
    deltas = [
        metric_delta(f"task{i}", "task", *zip(*data), target=target, resamples=100)
        for i, (data, target) in enumerate(tasks)
    ] + [
        metric_delta(f"guard{i}", "guard", *zip(*data), resamples=100)
        for i, data in enumerate(guards)
    ]
    verdict = decide(GoalConfig(purpose=purpose), deltas, status)
    assert verdict.verdict in VERDICTS
    assert verdict.headline.endswith(".")
    json.dumps(verdict.to_dict(), allow_nan=False)


# --- run folders ----------------------------------------------------------------------------


def write_run(run_dir: Path, status: str, reason: str | None = None) -> None:
    """A run folder with the JSON goal's config, status, eval files and a still-falling loss."""
    config = config_from_dict({"goal": JSON_GOAL.model_dump()})
    (run_dir / "config.yaml").write_text(dump_config(config))
    RunFolder(run_dir).set_status(status, reason)
    write_json(
        run_dir / "eval" / "before.json",
        evaluation({"json_valid": items(0.60, seed=1)}, {"ifeval": items(0.35, seed=2)}),
    )
    write_json(
        run_dir / "eval" / "after.json",
        evaluation({"json_valid": items(0.98, seed=1)}, {"ifeval": items(0.28, seed=2)}),
    )
    writer = LossHistoryWriter(run_dir / "loss_history.csv")
    for row in loss_rows([2.0 - i / 100 for i in range(100)]):
        writer.append(row)
    writer.close()


def test_verdict_for_run_reads_the_run_folder_while_still_running(tmp_path: Path) -> None:
    write_run(tmp_path, "running")  # the pipeline judges before it marks the run finished
    verdict = verdict_for_run(tmp_path)
    assert verdict.verdict == SUCCESS
    assert [f.kind for f in verdict.findings] == ["still_improving"]
    assert (
        verdict.to_dict()
        == build_verdict(
            JSON_GOAL,
            read_json(tmp_path / "eval" / "before.json"),
            read_json(tmp_path / "eval" / "after.json"),
            loss_rows=read_loss_history(tmp_path / "loss_history.csv"),
        ).to_dict()
    )


def test_verdict_for_run_of_a_failed_run_is_failed(tmp_path: Path) -> None:
    write_run(tmp_path, "failed", "TrainingFailed: loss became nan at step 7")
    verdict = verdict_for_run(tmp_path)
    assert verdict.verdict == FAILED
    assert verdict.headline == "Training failed: TrainingFailed: loss became nan at step 7."
