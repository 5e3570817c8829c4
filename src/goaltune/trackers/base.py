"""What every experiment tracker (`report_to`) offers, and the set that shields a run from them.

A tracker is a metric logger component: the training loop hands it each logged row, the
pipeline hands it the run's results at the end. A tracker that raises is dropped with one
warning; the run itself never fails because of one.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from goaltune.run_folder import VerdictRecord

_log = logging.getLogger("goaltune.trackers")

# loss_history.csv column -> tracker metric name (Transformers' Trainer names, as TRL users know)
STEP_METRICS = {
    "train_loss": "train/loss",
    "val_loss": "eval/loss",
    "learning_rate": "train/learning_rate",
    "grad_norm": "train/grad_norm",
    "tokens_per_second": "train/tokens_per_second",
    "epoch": "train/epoch",
}


class Tracker(Protocol):
    """One experiment tracker, open for one run folder."""

    name: str

    def log_step(self, row: Mapping[str, Any]) -> None:
        """One logged optimizer step: a loss_history.csv row plus `tokens_per_second`."""

    def log_final(
        self,
        before: Mapping[str, float],
        after: Mapping[str, float],
        verdict: VerdictRecord | None,
        hyperparameters: Mapping[str, Any],
        artifacts: Mapping[str, Path],
        step: int,
    ) -> None:
        """The run's results: metrics before/after, the verdict with its deltas, files."""

    def close(self) -> None:
        """Flush and release the tracker's files or connection."""


def metric_name(name: str) -> str:
    """A name both TensorBoard tags and MLflow keys accept (e.g. `mc:data/x.jsonl`)."""
    return re.sub(r"[^\w./\- ]", "_", name)


def final_metrics(
    before: Mapping[str, float], after: Mapping[str, float], verdict: VerdictRecord | None
) -> dict[str, float]:
    """The scores before and after, and each judged change with its CI, under tracker names."""
    values = {
        **{f"before/{metric_name(k)}": v for k, v in before.items()},
        **{f"after/{metric_name(k)}": v for k, v in after.items()},
    }
    for delta in verdict.deltas if verdict is not None else []:
        key = f"delta/{metric_name(delta.name)}"
        values[key] = delta.delta_points
        values[f"{key}/ci_low"] = delta.ci_low_points
        values[f"{key}/ci_high"] = delta.ci_high_points
    return values


def step_metrics(row: Mapping[str, Any]) -> dict[str, float]:
    """A step row's finite values under the tracker metric names."""
    values = {tag: row.get(key) for key, tag in STEP_METRICS.items()}
    return {
        tag: float(value)
        for tag, value in values.items()
        if isinstance(value, (int, float)) and math.isfinite(value)
    }


def verdict_markdown(verdict: VerdictRecord) -> str:
    """The verdict, its reasons and its deltas with CIs as Markdown (tracker text panels)."""
    caution = " (with caution)" if verdict.caution else ""
    lines = [f"**{verdict.verdict}**{caution}: {verdict.headline}", ""]
    lines += [f"- {reason}" for reason in verdict.reasons]
    if verdict.deltas:
        lines += ["", "| metric | role | before | after | change (points) | 95% CI |"]
        lines += ["| --- | --- | --- | --- | --- | --- |"]
        lines += [
            f"| {d.name} | {d.role} | {d.before:.4f} | {d.after:.4f} | {d.delta_points:+.1f} "
            f"| [{d.ci_low_points:+.1f}, {d.ci_high_points:+.1f}] |"
            for d in verdict.deltas
        ]
    return "\n".join(lines)


class TrackerSet:
    """The trackers of one run; any tracker call that raises drops that tracker with a warning."""

    def __init__(self, trackers: list[Tracker], dropped: set[str]) -> None:
        self._live = list(trackers)
        self._dropped = dropped  # shared per run folder, so a failed tracker stays dropped

    @property
    def names(self) -> list[str]:
        return [tracker.name for tracker in self._live]

    def log_step(self, row: Mapping[str, Any]) -> None:
        for tracker in list(self._live):
            self._guarded(tracker, lambda t=tracker: t.log_step(row))

    def log_final(self, **results: Any) -> None:
        for tracker in list(self._live):
            self._guarded(tracker, lambda t=tracker: t.log_final(**results))

    def close(self) -> None:
        for tracker in list(self._live):
            self._guarded(tracker, tracker.close)
        self._live = []

    def _guarded(self, tracker: Tracker, call: Any) -> None:
        try:
            call()
        except Exception as error:  # a tracker's own failure must never end a training run
            self.drop(tracker.name, error)
            self._live.remove(tracker)

    def drop(self, name: str, error: BaseException) -> None:
        """Warn once that `name` failed; it receives nothing more from this run."""
        if name not in self._dropped:
            _log.warning(
                "report_to %s failed (%s: %s); the run goes on without it",
                name,
                type(error).__name__,
                str(error).splitlines()[0] if str(error) else "",
            )
        self._dropped.add(name)
