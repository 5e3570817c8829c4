"""Decide a guard with fewer items (`eval.sequential`): an anytime-valid confidence sequence.

The after-evaluation scores a guard benchmark's items in a seeded random order, a batch at a
time, and after each batch bounds the mean paired change (after minus before, per item) with a
confidence sequence: intervals that hold at every look at once with probability 1 - alpha, so
stopping as soon as one looks decisive keeps the error rate (a fixed-n interval recomputed after
every batch does not: `tests/test_sequential.py` shows both by simulation). The sequence is the
predictable plug-in empirical-Bernstein one of Waudby-Smith & Ramdas, "Estimating means of
bounded random variables by betting", JRSS B 86(1), 2024, Theorem 2 with its recommended
bets (eq. 13 there); it is tight when most items do not change, as after most fine-tunes.

Evaluation stops once the whole interval, and the observed mean, lie in one band of the
verdict's guard rule (`Thresholds.band`), so the verdict's question for that guard is
answered: held within `tradeoff_drop_points`, or dropped into a given band beyond it. As with the
bootstrap intervals, the items are taken as a sample of the population of such items; the random
order makes every prefix one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from goaltune.config import GoalConfig, Thresholds
from goaltune.deltas import judged_guards
from goaltune.evaluate.stats import CI_LEVEL
from goaltune.run_folder import EvalResult

ALPHA = 1.0 - CI_LEVEL
MAX_BET = 0.5  # the bets' cap c of the paper's eq. 13
SEED = 0
# Thresholds.band's bands: held within tradeoff_drop_points, then the drops' three bands
BAND_NAMES = ("held", "trade-off drop", "caution drop", "investigate drop")


def confidence_sequence(
    changes: Sequence[float], alpha: float = ALPHA
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds, after each item, of the mean of per-item changes in [-1, 1].

    Element t bounds the mean from the first t + 1 changes; the bounds are running
    intersections, so they only tighten.
    """
    x = (np.asarray(changes, dtype=float) + 1.0) / 2.0  # onto [0, 1], where the theorem is stated
    if x.size == 0:
        return np.array([-1.0]), np.array([1.0])
    t = np.arange(1, x.size + 1)
    mean = (0.5 + np.cumsum(x)) / (t + 1)
    variance = (0.25 + np.cumsum((x - mean) ** 2)) / (t + 1)
    # the bet and the variance term of item t use only items before it (predictable)
    mean_before = np.concatenate([[0.5], mean[:-1]])
    variance_before = np.concatenate([[0.25], variance[:-1]])
    log_term = np.log(2.0 / alpha)
    bets = np.minimum(np.sqrt(2 * log_term / (variance_before * t * np.log1p(t))), MAX_BET)
    psi = (-np.log1p(-bets) - bets) / 4.0
    spent = np.cumsum(4.0 * (x - mean_before) ** 2 * psi)
    total_bet = np.cumsum(bets)
    centre = np.cumsum(bets * x) / total_bet
    width = (log_term + spent) / total_bet
    low = np.maximum.accumulate(np.clip(centre - width, 0.0, 1.0))
    high = np.minimum.accumulate(np.clip(centre + width, 0.0, 1.0))
    return 2.0 * low - 1.0, 2.0 * high - 1.0


def decided_band(
    changes: Sequence[float], thresholds: Thresholds, alpha: float = ALPHA
) -> int | None:
    """The verdict band every change the sequence still allows falls in, or None if undecided."""
    if not changes:
        return None
    low, high = confidence_sequence(changes, alpha)
    mean_points = float(np.mean(changes)) * 100.0
    bands = {thresholds.band(-value) for value in (low[-1] * 100, high[-1] * 100)}
    bands.add(thresholds.band(-mean_points))
    return bands.pop() if len(bands) == 1 else None


@dataclass(frozen=True)
class SequentialGuards:
    """What the after-evaluation needs to stop a guard early: its before scores and the rule."""

    before: dict[str, dict[str, float]]  # guard spec -> item id -> before score (primary metric)
    thresholds: Thresholds
    alpha: float = ALPHA


def sequential_guards(goal: GoalConfig, before: EvalResult) -> SequentialGuards:
    """The guards the verdict judges (`goaltune.deltas.judged_guards`) with their before scores."""
    scores: dict[str, dict[str, float]] = {}
    for name in judged_guards(goal, before):
        section = before.benchmarks.get(name)
        if section is None or section.primary_metric is None:
            continue
        metric = section.primary_metric
        scores[name] = {
            item.id: float(value)
            for item in section.items
            if item.id is not None and (value := item.metrics.get(metric)) is not None
        }
    return SequentialGuards(scores, goal.thresholds)


def _changes(records: list[dict[str, Any]], metric: str, before: dict[str, float]) -> list[float]:
    """After-minus-before change of each scored record that the before evaluation also scored."""
    changes = []
    for record in records:
        after, key = record.get("metrics", {}).get(metric), record.get("id")
        if after is not None and key is not None and str(key) in before:
            changes.append(float(after) - before[str(key)])
    return changes


def run_sequentially(
    items: list[Any],
    chunk_size: int,
    score: Callable[[list[Any]], dict[str, Any]],
    before: dict[str, float],
    thresholds: Thresholds,
    alpha: float = ALPHA,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Score `items` in a seeded random order, `chunk_size` at a time, until the band is decided.

    `score(chunk)` returns a benchmark result for those items. Returns the scored records, the
    last chunk's result (its primary metric and settings) and the `sequential` record.
    """
    order = np.random.default_rng(SEED).permutation(len(items))
    shuffled = [items[i] for i in order]
    records: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    changes: list[float] = []
    band = None
    for start in range(0, len(shuffled), chunk_size):
        last = score(shuffled[start : start + chunk_size])
        records.extend(last["items"])
        changes = _changes(records, last["primary_metric"], before)
        band = decided_band(changes, thresholds, alpha)
        if band is not None:
            break
    low, high = confidence_sequence(changes, alpha)
    summary = {
        "items": len(records),
        "of": len(items),
        "decided": None if band is None else BAND_NAMES[band],
        "interval_points": [round(float(low[-1]) * 100, 2), round(float(high[-1]) * 100, 2)],
    }
    return records, last, summary
