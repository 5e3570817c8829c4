"""The rule that ranks goal evaluations: which step to keep and when to stop early.

A row of goal_history.csv is ranked by the task targets it reaches, then by its guards' tier under
the verdict's thresholds, then by its mean task score, then by its smallest worst guard drop.
"""

from __future__ import annotations

import random
from typing import Any

from goaltune.config import RunConfig
from goaltune.run_folder import GoalRow


def seeded_subset(items: list[Any], size: int, seed: int) -> list[Any]:
    """`size` items drawn with `seed`, in their original order (all of them when fewer)."""
    if len(items) <= size:
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), size))
    return [items[i] for i in chosen]


def guard_drop_points(row: GoalRow, base: GoalRow) -> dict[str, float]:
    """How far each guard fell below its step-0 score, in points (negative: it rose)."""
    return {
        name: (base_value - value) * 100
        for name, value in row.guards.items()
        if value is not None and (base_value := base.guards.get(name)) is not None
    }


def goal_rank(row: GoalRow, base: GoalRow, config: RunConfig) -> tuple[int, int, float, float]:
    """Sort key of the keep/early-stopping rule; larger is better.

    First the number of task targets reached, then the guards' tier by the verdict's four bands
    (worst drop below tradeoff_drop_points: unchanged; at most caution_drop_points: a trade-off;
    at most investigate_drop_points: caution; beyond: investigate), then the mean task score,
    then the smaller worst drop. A row that reaches the targets with the guards unchanged beats
    one that scores higher on the task at the price of a trade-off, as the verdict would judge.
    """
    t = config.goal.thresholds
    reached = sum(
        1
        for metric in config.goal.task_metrics
        if metric.target is not None
        and (value := row.task.get(metric.name)) is not None
        and value >= metric.target
    )
    worst = max(guard_drop_points(row, base).values(), default=0.0)
    tier = t.band(worst)
    scores = [v for v in row.task.values() if v is not None]
    return reached, -tier, sum(scores) / len(scores) if scores else 0.0, -worst


def best_row(rows: list[GoalRow], config: RunConfig) -> GoalRow | None:
    """The trained row (step > 0) the rule ranks first; the earliest among equals."""
    if not rows:
        return None
    best: GoalRow | None = None
    for row in rows[1:]:
        if best is None or goal_rank(row, rows[0], config) > goal_rank(best, rows[0], config):
            best = row
    return best


def best_reason(row: GoalRow, base: GoalRow, config: RunConfig) -> str:
    """Why the rule ranks `row` first, in words."""
    reached, tier, _, _ = goal_rank(row, base, config)
    targets = sum(1 for m in config.goal.task_metrics if m.target is not None)
    parts = [f"{reached} of {targets} task targets reached"] if targets else []
    scores = ", ".join(f"{n} {v:.3g}" for n, v in row.task.items() if v is not None)
    parts.append(f"task {scores}" if scores else "no task score")
    worst = max(guard_drop_points(row, base).items(), key=lambda kv: kv[1], default=None)
    if worst is not None and worst[1] > 0:
        band = ("unchanged", "a trade-off", "accept with caution", "investigate")[-tier]
        parts.append(
            f"worst guard drop {worst[0]} {worst[1]:.1f} points ({band} by the verdict's bands)"
        )
    elif worst is not None:
        parts.append(f"no guard below step 0 ({worst[0]} {-worst[1]:+.1f} points)")
    return f"the best goal evaluation, step {row.step}: " + "; ".join(parts)
