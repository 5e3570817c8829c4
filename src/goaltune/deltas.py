"""Before -> after changes of each judged metric, paired item by item, with bootstrap intervals.

The task metrics come from the eval files' `task` section (or name a benchmark); the guards are
the benchmarks the goal protects. Each delta pairs items by id, so an item is compared with itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from goaltune.config import GoalConfig
from goaltune.errors import RunError
from goaltune.evaluate.stats import paired_bootstrap
from goaltune.run_folder import EvalResult, ScoredItem, ScoredSet

Role = Literal["task", "guard"]


@dataclass(frozen=True)
class MetricDelta:
    """Before/after scores of one metric over paired items, with the delta's interval in points."""

    name: str
    role: Role
    before: float
    after: float
    n: int
    delta_points: float
    ci_low_points: float
    ci_high_points: float
    target: float | None = None

    @property
    def change(self) -> str:
        """'gain' or 'drop' when the interval excludes zero, else 'within noise'."""
        if self.ci_low_points <= 0.0 <= self.ci_high_points:
            return "within noise"
        return "gain" if self.delta_points > 0 else "drop"

    @property
    def target_reached(self) -> bool | None:
        """Whether the after score meets the target; None without a target."""
        return None if self.target is None else self.after >= self.target

    def to_dict(self) -> dict[str, Any]:
        """The delta as it appears in verdict.json."""
        return {
            "name": self.name,
            "role": self.role,
            "before": round(self.before, 4),
            "after": round(self.after, 4),
            "n": self.n,
            "delta_points": round(self.delta_points, 2),
            "ci_low_points": round(self.ci_low_points, 2),
            "ci_high_points": round(self.ci_high_points, 2),
            "change": self.change,
            "target": self.target,
            "target_reached": self.target_reached,
        }


def metric_delta(
    name: str,
    role: Role,
    before_items: Sequence[float],
    after_items: Sequence[float],
    target: float | None = None,
    resamples: int = 1000,
) -> MetricDelta:
    """A MetricDelta from paired per-item values (same order on both sides)."""
    delta, low, high = paired_bootstrap(before_items, after_items, resamples)
    return MetricDelta(
        name=name,
        role=role,
        before=float(np.mean(before_items)),
        after=float(np.mean(after_items)),
        n=len(before_items),
        delta_points=delta,
        ci_low_points=low,
        ci_high_points=high,
        target=target,
    )


def _paired_values(
    before_items: list[ScoredItem], after_items: list[ScoredItem], metric: str
) -> tuple[list[float], list[float]]:
    """Per-item values of `metric` for items scored on both sides, paired by id."""
    after_by_id = {item.id: item.metrics for item in after_items}
    pairs = [
        (item.metrics[metric], after_by_id[item.id][metric])
        for item in before_items
        if item.metrics.get(metric) is not None
        and after_by_id.get(item.id, {}).get(metric) is not None
    ]
    return [float(b) for b, _ in pairs], [float(a) for _, a in pairs]  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Source:
    """Where a metric's per-item values live: the before and after sections and the metric key."""

    before: ScoredSet
    after: ScoredSet
    metric: str


def _benchmark_source(name: str, before: EvalResult, after: EvalResult) -> _Source:
    """A benchmark's sections on both sides, scored by its primary metric."""
    section = before.benchmarks.get(name)
    if section is None:
        raise RunError(f"benchmark '{name}' is missing from the before evaluation")
    if section.primary_metric is None:
        raise RunError(f"benchmark '{name}' has no primary_metric in the before evaluation")
    return _Source(section, after.benchmarks.get(name) or ScoredSet(), section.primary_metric)


def _task_source(name: str, before: EvalResult, after: EvalResult) -> _Source:
    """A task metric: looked up in the task section first, then as a benchmark name."""
    if before.task is not None and name in before.task.metrics:
        return _Source(before.task, after.task or ScoredSet(), name)
    if name in before.benchmarks:
        return _benchmark_source(name, before, after)
    raise RunError(f"task metric '{name}' is neither a task metric nor a benchmark in eval results")


def _source_delta(
    name: str, role: Role, source: _Source, target: float | None, resamples: int
) -> MetricDelta:
    before, after = _paired_values(source.before.items, source.after.items, source.metric)
    if not before:
        raise RunError(f"'{name}': no items scored on '{source.metric}' both before and after")
    return metric_delta(name, role, before, after, target, resamples)


def collect_deltas(
    goal: GoalConfig, before: EvalResult, after: EvalResult, resamples: int = 1000
) -> list[MetricDelta]:
    """Task deltas then guard deltas from eval/before.json and eval/after.json.

    Without goal.task_metrics every task metric counts; without goal.guard_benchmarks every
    benchmark present on both sides and not used as a task metric is a guard.
    """
    task_metrics = before.task.metrics if before.task else {}
    goals = [(m.name, m.target) for m in goal.task_metrics] or [
        (name, None) for name in task_metrics
    ]
    task_names = {name for name, _ in goals}
    guard_names = goal.guard_benchmarks or [
        name for name in before.benchmarks if name not in task_names and name in after.benchmarks
    ]
    task = [
        _source_delta(name, "task", _task_source(name, before, after), target, resamples)
        for name, target in goals
    ]
    guards = [
        _source_delta(name, "guard", _benchmark_source(name, before, after), None, resamples)
        for name in guard_names
    ]
    return task + guards
