"""The compare page: `goaltune compare`'s comparison (pairs, confounds, notes) as table rows."""

from __future__ import annotations

from pathlib import Path

from goaltune.compare import Comparison, compare_runs
from goaltune.compare.core import after_score, goal_metrics, status_name, verdict_name
from goaltune.format import pct, points, short_duration, value_text
from goaltune.report.inputs import Json


def metric_rows(c: Comparison) -> list[Json]:
    """Per goal metric: each run's after score and its change in points against its reference."""
    changes = {pair.run.label: pair for pair in c.pairs}
    rows = []
    for metric in goal_metrics(c.runs):
        cells = []
        for run in c.runs:
            pair = changes.get(run.label)
            change = pair.changes.get(metric) if pair else None
            cells.append(
                {
                    "score": pct(after_score(run.data, metric)),
                    "change": f"{points(change)} vs {pair.reference.label}"
                    if pair and change is not None
                    else "",
                    "sign": 0 if change is None else (1 if change > 0 else -1 if change < 0 else 0),
                }
            )
        rows.append({"metric": metric, "cells": cells})
    return rows


def compare_page(ids: list[str], run_dirs: list[Path], group_by: str | None = None) -> Json:
    """What the compare page shows for the selected runs (at least two), grouped by one config
    key as `goaltune compare --group-by` does (default: the one key they differ in)."""
    c = compare_runs(run_dirs, group_by or None)
    return {
        "ids": ids,
        "group_by": group_by or "",
        "labels": [run.label for run in c.runs],
        "factor": c.factor,
        "summary": [
            {
                "label": run.label,
                "status": status_name(run.data),
                "verdict": verdict_name(run.data) or "-",
                "time": short_duration(run.data.metrics.wall_time_s if run.data.metrics else None),
            }
            for run in c.runs
        ],
        "metrics": metric_rows(c),
        "differing": [
            {"key": key, "values": [value_text(run.value(key)) for run in c.runs]}
            for key in c.differing
        ],
        "pairs": [pair.text() for pair in c.pairs],
        "confounds": [
            f"{pair.run.label} vs {pair.reference.label} also differ in "
            f"{', '.join(pair.confounders)}"
            for pair in c.confounded
        ],
        "notes": c.notes,
    }
