"""Before -> after changes of each judged metric, paired item by item, with bootstrap intervals.

The task metrics come from the eval files' `task` section (or name a benchmark); the guards are
the benchmarks the goal protects. Each delta pairs items by id, so an item is compared with itself.
The same pairs give each metric's flips: the items that went right -> wrong and wrong -> right.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from goaltune.config import GoalConfig
from goaltune.errors import RunError
from goaltune.evaluate.stats import paired_bootstrap
from goaltune.run_folder import EvalResult, ScoredItem, ScoredSet

Role = Literal["task", "guard"]
# an item is right at or above this value: 1 for pass/fail metrics; a continuous score in [0, 1]
# flips only when it crosses it, so a small wobble around 0.7 is not a flip
RIGHT_AT = 0.5


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


def mcnemar_p_value(right_to_wrong: int, wrong_to_right: int) -> float:
    """McNemar's exact two-sided p-value: a binomial(n, 1/2) test on the n discordant pairs.

    Twice the smaller tail, capped at 1; 1.0 without discordant pairs.
    """
    n = right_to_wrong + wrong_to_right
    tail = sum(math.comb(n, k) for k in range(min(right_to_wrong, wrong_to_right) + 1))
    return min(1.0, 2 * tail / 2**n)


@dataclass(frozen=True)
class MetricFlips:
    """The paired items of one metric whose right/wrong status changed (see RIGHT_AT)."""

    name: str
    role: Role
    metric: str
    right_to_wrong_ids: tuple[str, ...]
    wrong_to_right_ids: tuple[str, ...]

    @property
    def p_value(self) -> float:
        """McNemar's exact two-sided p-value of the flip counts."""
        return mcnemar_p_value(len(self.right_to_wrong_ids), len(self.wrong_to_right_ids))

    def to_dict(self) -> dict[str, Any]:
        """The flips as they appear in verdict.json."""
        return {
            "name": self.name,
            "role": self.role,
            "metric": self.metric,
            "right_to_wrong": len(self.right_to_wrong_ids),
            "wrong_to_right": len(self.wrong_to_right_ids),
            "p_value": float(f"{self.p_value:.4g}"),  # tiny p-values keep their digits
            "right_to_wrong_ids": list(self.right_to_wrong_ids),
            "wrong_to_right_ids": list(self.wrong_to_right_ids),
        }


@dataclass(frozen=True)
class ItemPair:
    """One item's value of a metric before and after."""

    id: str
    before: float
    after: float


def pair_items(
    before_items: list[ScoredItem], after_items: list[ScoredItem], metric: str
) -> list[ItemPair]:
    """Items scored on `metric` on both sides, paired by id (an item without an id has no pair)."""
    after_by_id = {item.id: item.metrics for item in after_items if item.id is not None}
    pairs = []
    for item in before_items:
        if item.id is None or item.id not in after_by_id:
            continue
        before, after = item.metrics.get(metric), after_by_id[item.id].get(metric)
        if before is not None and after is not None:
            pairs.append(ItemPair(item.id, float(before), float(after)))
    return pairs


@dataclass(frozen=True)
class Source:
    """Where a judged metric's per-item values live: the before and after sections and the key."""

    before: ScoredSet
    after: ScoredSet
    metric: str


def _benchmark_source(name: str, before: EvalResult, after: EvalResult) -> Source:
    """A benchmark's sections on both sides, scored by its primary metric."""
    section = before.benchmarks.get(name)
    if section is None:
        raise RunError(f"benchmark '{name}' is missing from the before evaluation")
    if section.primary_metric is None:
        raise RunError(f"benchmark '{name}' has no primary_metric in the before evaluation")
    return Source(section, after.benchmarks.get(name) or ScoredSet(), section.primary_metric)


def _task_source(name: str, before: EvalResult, after: EvalResult) -> Source:
    """A task metric: looked up in the task section first, then as a benchmark name."""
    if before.task is not None and name in before.task.metrics:
        return Source(before.task, after.task or ScoredSet(), name)
    if name in before.benchmarks:
        return _benchmark_source(name, before, after)
    raise RunError(f"task metric '{name}' is neither a task metric nor a benchmark in eval results")


def judged_source(name: str, role: Role, before: EvalResult, after: EvalResult) -> Source:
    """The sections and metric key the verdict judges `name` on, as a task metric or a guard."""
    if role == "task":
        return _task_source(name, before, after)
    return _benchmark_source(name, before, after)


@dataclass(frozen=True)
class _Judged:
    """One judged metric with its target and its items paired by id."""

    name: str
    role: Role
    target: float | None
    metric: str
    pairs: list[ItemPair]


def _task_goals(goal: GoalConfig, before: EvalResult) -> list[tuple[str, float | None]]:
    """(name, target) of each task metric: the goal's, or every task metric of the before file."""
    task_metrics = before.task.metrics if before.task else {}
    return [(m.name, m.target) for m in goal.task_metrics] or [
        (name, None) for name in task_metrics
    ]


def judged_guards(
    goal: GoalConfig, before: EvalResult, after_benchmarks: Collection[str] | None = None
) -> list[str]:
    """The guards the verdict judges: goal.guard_benchmarks, else every benchmark of the before
    file (and of `after_benchmarks`, when given) that is not a task metric."""
    task_names = {name for name, _ in _task_goals(goal, before)}
    return goal.guard_benchmarks or [
        name
        for name in before.benchmarks
        if name not in task_names and (after_benchmarks is None or name in after_benchmarks)
    ]


def _judged(goal: GoalConfig, before: EvalResult, after: EvalResult) -> list[_Judged]:
    """Task metrics then guards, each with its paired items.

    Without goal.task_metrics every task metric counts; without goal.guard_benchmarks every
    benchmark present on both sides and not used as a task metric is a guard.
    """
    goals = _task_goals(goal, before)
    guard_names = judged_guards(goal, before, after.benchmarks)
    named: list[tuple[str, Role, float | None]] = [
        (name, "task", target) for name, target in goals
    ] + [(name, "guard", None) for name in guard_names]
    judged = []
    for name, role, target in named:
        source = judged_source(name, role, before, after)
        pairs = pair_items(source.before.items, source.after.items, source.metric)
        if not pairs:
            raise RunError(f"'{name}': no items scored on '{source.metric}' both before and after")
        judged.append(_Judged(name, role, target, source.metric, pairs))
    return judged


def collect_deltas(
    goal: GoalConfig, before: EvalResult, after: EvalResult, resamples: int = 1000
) -> list[MetricDelta]:
    """Task deltas then guard deltas from eval/before.json and eval/after.json."""
    return [
        metric_delta(
            j.name,
            j.role,
            [p.before for p in j.pairs],
            [p.after for p in j.pairs],
            j.target,
            resamples,
        )
        for j in _judged(goal, before, after)
    ]


def collect_flips(goal: GoalConfig, before: EvalResult, after: EvalResult) -> list[MetricFlips]:
    """For each metric collect_deltas judges (same order, same pairs), the items that flipped."""
    return [
        MetricFlips(
            j.name,
            j.role,
            j.metric,
            tuple(p.id for p in j.pairs if p.before >= RIGHT_AT > p.after),
            tuple(p.id for p in j.pairs if p.after >= RIGHT_AT > p.before),
        )
        for j in _judged(goal, before, after)
    ]
