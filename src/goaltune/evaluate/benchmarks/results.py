"""The per-benchmark section of eval JSON: primary metric, summaries, items and source."""

from __future__ import annotations

from typing import Any

from goaltune.evaluate.stats import score_summary


def summarize(records: list[dict[str, Any]], metrics: list[str], resamples: int) -> dict[str, dict]:
    """Mean, n and 95% bootstrap CI of each per-item metric over the records that carry it."""
    return {
        metric: score_summary(
            [r["metrics"][metric] for r in records if metric in r["metrics"]], resamples
        )
        for metric in metrics
    }


def benchmark_result(
    primary: str,
    metrics: dict[str, dict],
    records: list[dict[str, Any]],
    source: str,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """One entry of the `benchmarks` section of eval/before.json and eval/after.json."""
    return {
        "primary_metric": primary,
        "metrics": metrics,
        "items": records,
        "source": source,
        "settings": settings,
    }
