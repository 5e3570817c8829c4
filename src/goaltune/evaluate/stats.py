"""Confidence intervals for scores averaged over items."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bootstrap_ci(
    values: Sequence[float], resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of per-item values."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def score_summary(values: Sequence[float], resamples: int = 1000) -> dict[str, float | int]:
    """Mean score, n and its 95% bootstrap interval, as stored in eval JSON files."""
    low, high = bootstrap_ci(values, resamples)
    mean = float(np.mean(values)) if len(values) else float("nan")
    return {"score": mean, "n": len(values), "ci_low": low, "ci_high": high}
