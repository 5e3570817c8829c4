"""What the run report and the comparison read from a run folder, in one place.

Every input is optional: a missing or unreadable file leaves its field None and is named in
`RunData.problems`, so the sections that need it can say so.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from goaltune.errors import RunError
from goaltune.format import get
from goaltune.run_folder import read_json

RUN_FILES = {
    "config": "config.yaml",
    "status": "status.json",
    "history": "loss_history.csv",
    "metrics": "training_metrics.json",
    "before": "eval/before.json",
    "after": "eval/after.json",
    "verdict": "verdict.json",
}

Json = dict[str, Any]
History = list[dict[str, float | None]]


@dataclass
class RunData:
    """What the report reads from a run folder; a missing or unreadable file leaves its field None
    and an entry in `problems` (file name -> 'missing' or why it could not be read)."""

    path: Path
    config: Json | None = None
    status: Json | None = None
    history: History | None = None
    metrics: Json | None = None
    before: Json | None = None
    after: Json | None = None
    verdict: Json | None = None
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The run's name from its config or metrics, else the folder name."""
        return str(get(self.config, "name") or get(self.metrics, "run_name") or self.path.name)

    @property
    def deltas(self) -> dict[str, Mapping[str, Any]]:
        """The verdict's metric deltas by metric (or benchmark) name."""
        deltas = get(self.verdict, "deltas") or []
        return {str(d.get("name")): d for d in deltas if isinstance(d, Mapping)}

    def missing(self, *names: str) -> str:
        """'eval/after.json is missing' for the absent or unreadable inputs among `names`."""
        return "; ".join(
            f"{name} is {self.problems[name]}" for name in names if name in self.problems
        )


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def read_history(path: Path) -> History:
    """loss_history.csv rows with every cell parsed as a number (empty or unparsable: None)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            {key: _number(value) for key, value in row.items() if key}
            for row in csv.DictReader(handle)
        ]


def _read_mapping(path: Path) -> Json:
    if path.suffix == ".yaml":
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    else:
        value = read_json(path)
    if not isinstance(value, dict):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return value


def load_run(run_dir: Path) -> RunData:
    """Read every report input that exists in the run folder."""
    run = RunData(Path(run_dir))
    if not run.path.is_dir():
        raise RunError(f"{run.path}: no such run folder")
    for attr, name in RUN_FILES.items():
        path = run.path / name
        if not path.is_file():
            run.problems[name] = "missing"
            continue
        try:
            setattr(run, attr, read_history(path) if attr == "history" else _read_mapping(path))
        except (RunError, ValueError, TypeError, yaml.YAMLError, OSError, csv.Error) as error:
            run.problems[name] = f"unreadable ({str(error).removeprefix(f'{path}: ')})"
    return run
