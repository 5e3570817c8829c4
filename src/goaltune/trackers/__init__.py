"""Experiment trackers (`train.report_to`, TRL's name): TensorBoard, MLflow, W&B, Trackio.

`open_trackers` gives the training loop a `TrackerSet` for per-step rows; `log_run_results`
reads the finished run folder and sends the results. Each tracker is one module using its
library's own API; one that fails is dropped with a warning and never fails the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from goaltune.errors import ConfigError
from goaltune.extras import require
from goaltune.run_folder import EvalResult, RunFolder
from goaltune.trackers.base import Tracker, TrackerSet

# tracker name -> (module it needs, pip extra)
REQUIREMENTS = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "mlflow": ("mlflow", "mlflow"),
    "wandb": ("wandb", "wandb"),
    "trackio": ("trackio", "trackio"),
}

_DROPPED: dict[Path, set[str]] = {}  # per run folder: trackers that failed in this process


def _factory(name: str) -> Callable[[RunFolder, int], Tracker]:
    if name == "tensorboard":
        from goaltune.trackers.tensorboard_tracker import TensorBoardTracker

        return TensorBoardTracker
    if name == "wandb":
        from goaltune.trackers.wandb_tracker import WandbTracker

        return WandbTracker
    if name == "trackio":
        from goaltune.trackers.trackio_tracker import TrackioTracker

        return TrackioTracker
    from goaltune.trackers.mlflow_tracker import MlflowTracker

    return MlflowTracker


def require_trackers(names: Sequence[str]) -> None:
    """ConfigError naming the pip extra when a tracker's library is not installed."""
    for name in names:
        module, extra = REQUIREMENTS[name]
        require(f"train.report_to: {name}", [module], extra, error=ConfigError)


def open_trackers(names: Sequence[str], folder: RunFolder, first_step: int = 1) -> TrackerSet:
    """The run's trackers, opened; one that cannot open is left out with a warning."""
    dropped = _DROPPED.setdefault(folder.path.resolve(), set())
    trackers = TrackerSet([], dropped)
    opened = []
    for name in dict.fromkeys(names):
        if name in dropped:
            continue
        try:
            opened.append(_factory(name)(folder, first_step))
        except Exception as error:  # an unreachable server or a broken install: warn, go on
            trackers.drop(name, error)
    return TrackerSet(opened, dropped)


def _scores(result: EvalResult) -> dict[str, float]:
    """Every score of an eval file: `task/METRIC` and `BENCHMARK/METRIC`."""
    scores = {}
    sets = {"task": result.task} if result.task else {}
    for scope, scored in {**sets, **result.benchmarks}.items():
        for metric, summary in scored.metrics.items():
            if summary.score is not None:
                scores[f"{scope}/{metric}"] = summary.score
    return scores


def _flat(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters as scalars (lists and mappings as text)."""
    return {
        key: value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
        for key, value in hyperparameters.items()
    }


def log_run_results(run_dir: Path, names: Sequence[str]) -> None:
    """Send a run folder's results (evaluations, verdict, hyperparameters, report, adapter)."""
    if not names:
        return
    folder = RunFolder(run_dir)
    trackers = open_trackers(names, folder)
    try:
        trackers.log_final(**_results(folder))
    except Exception as error:  # an unreadable run file: the trackers miss it, the run does not
        for name in trackers.names:
            trackers.drop(name, error)
    finally:
        trackers.close()


def _results(folder: RunFolder) -> dict[str, Any]:
    """`Tracker.log_final`'s arguments, read from the run folder."""
    metrics = folder.read_training_metrics() if folder.training_metrics_path.is_file() else None
    has = {side: folder.eval_path(side).is_file() for side in ("before", "after")}
    artifacts = {
        path.name: path
        for path in (folder.report_html_path, folder.verdict_path, folder.adapter_dir)
    }
    hyperparameters = (
        {"model": metrics.model.name_or_path, **metrics.hyperparameters} if metrics else {}
    )
    return {
        "before": _scores(folder.read_eval("before")) if has["before"] else {},
        "after": _scores(folder.read_eval("after")) if has["after"] else {},
        "verdict": folder.read_verdict() if folder.verdict_path.is_file() else None,
        "hyperparameters": _flat(hyperparameters),
        "artifacts": {name: path for name, path in artifacts.items() if path.exists()},
        "step": (metrics.steps or 0) if metrics else 0,
    }


__all__ = ["Tracker", "TrackerSet", "log_run_results", "open_trackers", "require_trackers"]
