"""What the run report and the comparison read from a run folder, in one place.

Every input is optional: a missing or unreadable file leaves its field None and is named in
`RunData.problems`, so the sections that need it can say so. Files are read through `RunFolder`
as the typed records of `run_folder.schema`; only config.yaml stays a plain mapping.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import yaml

from goaltune.errors import GoaltuneError, RunError
from goaltune.format import get
from goaltune.run_folder import (
    BenchmarkResult,
    DeltaRecord,
    EvalResult,
    LossRow,
    RunFolder,
    RunStatus,
    ScoredSet,
    ScoreSummary,
    TrainingMetrics,
    VerdictRecord,
)

Json = dict[str, Any]
Input = Literal["config", "status", "history", "metrics", "before", "after", "verdict"]


def input_paths(folder: RunFolder) -> dict[Input, Path]:
    """The file each report input is read from, in reading order."""
    return {
        "config": folder.config_path,
        "status": folder.status_path,
        "history": folder.loss_history_path,
        "metrics": folder.training_metrics_path,
        "before": folder.eval_path("before"),
        "after": folder.eval_path("after"),
        "verdict": folder.verdict_path,
    }


@dataclass
class RunData:
    """What the report reads from a run folder; a missing or unreadable file leaves its field None
    and an entry in `problems` (its name in the folder -> 'missing' or why it could not be read)."""

    path: Path
    config: Json | None = None
    status: RunStatus | None = None
    history: list[LossRow] | None = None
    metrics: TrainingMetrics | None = None
    before: EvalResult | None = None
    after: EvalResult | None = None
    verdict: VerdictRecord | None = None
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.path)

    @property
    def name(self) -> str:
        """The run's name from its config or metrics, else the folder name."""
        run_name = self.metrics.run_name if self.metrics else None
        return str(get(self.config, "name") or run_name or self.path.name)

    @property
    def deltas(self) -> dict[str, DeltaRecord]:
        """The verdict's metric deltas by metric (or benchmark) name."""
        return {d.name: d for d in self.verdict.deltas} if self.verdict else {}

    def file(self, name: Input) -> str:
        """The file an input comes from, as messages name it ('eval/after.json')."""
        return self.folder.relative(input_paths(self.folder)[name])

    def problem(self, name: Input) -> str | None:
        """'missing' or 'unreadable (why)' for an input that could not be read, else None."""
        return self.problems.get(self.file(name))

    def missing(self, *names: Input) -> str:
        """'eval/after.json is missing' for the absent or unreadable inputs among `names`."""
        return "; ".join(
            f"{self.file(name)} is {self.problem(name)}" for name in names if self.problem(name)
        )


def entry(section: ScoredSet | None, metric: str | None) -> ScoreSummary | None:
    """One metric's summary in a task or benchmark result, if both exist."""
    return section.metrics.get(metric) if section is not None and metric else None


def primary_metric(*sections: BenchmarkResult | None) -> str | None:
    """A benchmark's primary metric: from the first of its results that names one."""
    return next((s.primary_metric for s in sections if s and s.primary_metric), None)


def _read_config(path: Path) -> Json:
    value = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return value


def load_run(run_dir: Path) -> RunData:
    """Read every report input that exists in the run folder."""
    run = RunData(Path(run_dir))
    folder = run.folder
    if not folder.path.is_dir():
        raise RunError(f"{folder.path}: no such run folder")
    readers: dict[Input, Callable[[], object]] = {
        "config": partial(_read_config, folder.config_path),
        "status": folder.read_status,
        "history": folder.read_loss_history,
        "metrics": folder.read_training_metrics,
        "before": partial(folder.read_eval, "before"),
        "after": partial(folder.read_eval, "after"),
        "verdict": folder.read_verdict,
    }
    for name, path in input_paths(folder).items():
        if not path.is_file():
            run.problems[folder.relative(path)] = "missing"
            continue
        try:
            setattr(run, name, readers[name]())
        except (GoaltuneError, ValueError, TypeError, yaml.YAMLError, OSError, csv.Error) as error:
            why = str(error).removeprefix(f"{path}: ")
            run.problems[folder.relative(path)] = f"unreadable ({why})"
    return run
