"""Confidence intervals by the percentile bootstrap: of a mean score, and of a paired change."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CI_LEVEL = 0.95


def _interval(values: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    """The CI_LEVEL percentile interval of the mean of `values` over bootstrap resamples."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    tail = (1.0 - CI_LEVEL) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ci(
    values: Sequence[float], resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of per-item values."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"), float("nan"))
    return _interval(data, resamples, seed)


def paired_bootstrap(
    before: Sequence[float], after: Sequence[float], resamples: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean after-minus-before delta and its 95% percentile interval, in percentage points.

    Item indices are resampled jointly, so each item is compared with itself.
    """
    if len(before) != len(after):
        raise ValueError(f"paired samples differ in length: {len(before)} vs {len(after)}")
    if len(before) == 0:
        raise ValueError("paired bootstrap needs at least one item")
    diffs = (np.asarray(after, dtype=float) - np.asarray(before, dtype=float)) * 100.0
    low, high = _interval(diffs, resamples, seed)
    delta = float(diffs.mean())
    # float rounding can put the percentiles a hair inside the mean when all resamples agree
    return delta, min(low, delta), max(high, delta)


def score_summary(values: Sequence[float], resamples: int = 1000) -> dict[str, float | int]:
    """Mean score, n and its 95% bootstrap interval, as stored in eval JSON files."""
    low, high = bootstrap_ci(values, resamples)
    mean = float(np.mean(values)) if len(values) else float("nan")
    return {"score": mean, "n": len(values), "ci_low": low, "ci_high": high}
