"""Where each file of a run folder (and of a sweep folder) lives, and its typed reader/writer.

This is the only module that knows the file names. Producers and consumers ask a `RunFolder`
for a path or a typed record; a file that is missing, broken or of another layout raises a
RunError naming the file and the field.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from goaltune.errors import RunError
from goaltune.run_folder.files import atomic_write_text, read_json, utc_now, write_json
from goaltune.run_folder.goal_history import read_goal_history, write_goal_history
from goaltune.run_folder.loss_history import LossHistoryWriter, read_loss_history
from goaltune.run_folder.schema import (
    FORMAT_VERSION,
    AuditRecord,
    EvalResult,
    GoalRow,
    LossRow,
    ParityRecord,
    Record,
    RunStatus,
    Status,
    TrainingMetrics,
    VerdictRecord,
)

Side = Literal["before", "after"]
R = TypeVar("R", bound=Record)

CONFIG = "config.yaml"
STATUS = "status.json"
LOSS_HISTORY = "loss_history.csv"
GOAL_HISTORY = "goal_history.csv"  # train.goal_eval_steps: the goal watched while training
TRAINING_METRICS = "training_metrics.json"
ADAPTER = "adapter"
CHECKPOINTS = "checkpoints"
KEPT = "kept"  # under checkpoints/: the adapter of the best step so far (train.keep)
EVAL_DIR = "eval"
VERDICT = "verdict.json"
AUDIT = "audit.json"
REPORT_HTML = "report.html"
TENSORBOARD_DIR = "tensorboard"  # report_to: tensorboard event files
MLFLOW_DIR = "mlflow"  # report_to: mlflow, the local store (unless MLFLOW_TRACKING_URI)
WANDB_DIR = "wandb"  # report_to: wandb, its offline-run-* folders (unless WANDB_MODE=online)
REPORT_MD = "report.md"
SWEEP_STATE = "sweep.json"
COMPARISON = "comparison"  # comparison.html, comparison.md, comparison.json
PARITY = "parity.json"  # beside an export: inside a merged folder, FILE.parity.json for a GGUF


def eval_name(side: Side) -> str:
    """The name of an eval file inside a run folder: eval/before.json or eval/after.json."""
    return f"{EVAL_DIR}/{side}.json"


# the JSON files of a run folder (and of an export) and the model of each (docs/RUN_FOLDER.md
# is tested against it)
RECORD_MODELS: dict[str, type[Record]] = {
    STATUS: RunStatus,
    TRAINING_METRICS: TrainingMetrics,
    eval_name("before"): EvalResult,
    eval_name("after"): EvalResult,
    VERDICT: VerdictRecord,
    AUDIT: AuditRecord,
    PARITY: ParityRecord,
}


def validation_message(error: ValidationError) -> str:
    """The first problem of a pydantic error as 'field.path: what is wrong'."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def parse_record(model: type[R], value: Any, source: str | Path) -> R:
    """Validate a parsed file against its model; newer format versions are refused."""
    try:
        record = model.model_validate(value)
    except ValidationError as error:
        raise RunError(f"{source}: {validation_message(error)}") from error
    if record.format_version > FORMAT_VERSION:
        raise RunError(
            f"{source}: format_version {record.format_version} was written by a newer goaltune "
            f"(this one reads up to {FORMAT_VERSION}); upgrade goaltune to read it"
        )
    return record


def dump_record(record: BaseModel) -> dict[str, Any]:
    """A record as JSON data, stamped with the current format version."""
    return {**record.model_dump(mode="json"), "format_version": FORMAT_VERSION}


def read_record(model: type[R], path: Path) -> R:
    """Read and validate one JSON file of a run folder."""
    return parse_record(model, read_json(path), path)


def write_record(path: Path, record: BaseModel) -> None:
    """Atomically write one JSON file of a run folder in the current format version."""
    write_json(path, dump_record(record))


@dataclass(frozen=True)
class RunFolder:
    """One run's folder: the paths of its files and typed access to each of them."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # ---------------------------------------------------------------- paths

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    @property
    def status_path(self) -> Path:
        return self.path / STATUS

    @property
    def loss_history_path(self) -> Path:
        return self.path / LOSS_HISTORY

    @property
    def goal_history_path(self) -> Path:
        return self.path / GOAL_HISTORY

    @property
    def kept_dir(self) -> Path:
        return self.checkpoints_dir / KEPT

    @property
    def training_metrics_path(self) -> Path:
        return self.path / TRAINING_METRICS

    @property
    def adapter_dir(self) -> Path:
        return self.path / ADAPTER

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def verdict_path(self) -> Path:
        return self.path / VERDICT

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD_DIR

    @property
    def mlflow_dir(self) -> Path:
        return self.path / MLFLOW_DIR

    @property
    def wandb_dir(self) -> Path:
        return self.path / WANDB_DIR

    @property
    def audit_path(self) -> Path:
        return self.path / AUDIT

    @property
    def report_html_path(self) -> Path:
        return self.path / REPORT_HTML

    @property
    def report_md_path(self) -> Path:
        return self.path / REPORT_MD

    def eval_path(self, side: Side) -> Path:
        return self.path / eval_name(side)

    def relative(self, path: Path) -> str:
        """A file's name inside the folder, as messages and the report name it."""
        return path.relative_to(self.path).as_posix()

    def is_run(self) -> bool:
        """True for a folder goaltune wrote for one run (it has config.yaml or status.json)."""
        return self.path.is_dir() and (self.config_path.is_file() or self.status_path.is_file())

    # ---------------------------------------------------------------- status

    def read_status(self) -> RunStatus:
        """The run's status; a folder without status.json reads as 'unknown'."""
        if not self.status_path.is_file():
            return RunStatus(status="unknown")
        return read_record(RunStatus, self.status_path)

    def set_status(self, status: Status, reason: str | None = None, **extra: Any) -> None:
        """Record where the run stands (running / finished / failed / interrupted)."""
        record = RunStatus(status=status, reason=reason, updated=utc_now(), **extra)
        write_record(self.status_path, record)

    # ---------------------------------------------------------------- records

    def read_eval(self, side: Side) -> EvalResult:
        return read_record(EvalResult, self.eval_path(side))

    def write_eval(self, side: Side, result: EvalResult | dict[str, Any]) -> None:
        write_record(self.eval_path(side), _as_record(EvalResult, result))

    def read_training_metrics(self) -> TrainingMetrics:
        return read_record(TrainingMetrics, self.training_metrics_path)

    def write_training_metrics(self, metrics: TrainingMetrics | dict[str, Any]) -> None:
        write_record(self.training_metrics_path, _as_record(TrainingMetrics, metrics))

    def read_verdict(self) -> VerdictRecord:
        return read_record(VerdictRecord, self.verdict_path)

    def write_verdict(self, verdict: VerdictRecord | dict[str, Any]) -> None:
        write_record(self.verdict_path, _as_record(VerdictRecord, verdict))

    def read_audit(self) -> AuditRecord:
        return read_record(AuditRecord, self.audit_path)

    def write_audit(self, audit: AuditRecord | dict[str, Any]) -> None:
        write_record(self.audit_path, _as_record(AuditRecord, audit))

    def write_config_text(self, text: str) -> None:
        atomic_write_text(self.config_path, text)

    def read_loss_history(self) -> list[LossRow]:
        return read_loss_history(self.loss_history_path)

    def read_goal_history(self) -> list[GoalRow]:
        return read_goal_history(self.goal_history_path)

    def write_goal_history(self, rows: list[GoalRow]) -> None:
        write_goal_history(self.goal_history_path, rows)

    def loss_history_writer(self, append: bool = False) -> LossHistoryWriter:
        return LossHistoryWriter(self.loss_history_path, append=append)


def _as_record(model: type[R], value: R | dict[str, Any]) -> R:
    return value if isinstance(value, model) else parse_record(model, value, model.__name__)


@dataclass(frozen=True)
class SweepFolder:
    """A sweep's folder: its state file, one run folder per grid point, the comparison."""

    path: Path

    @property
    def state_path(self) -> Path:
        return self.path / SWEEP_STATE

    def comparison_path(self, suffix: Literal["html", "md", "json"]) -> Path:
        return self.path / f"{COMPARISON}.{suffix}"

    def is_sweep(self) -> bool:
        return self.state_path.is_file()


def parity_path(export: Path, kind: Literal["merged", "gguf"]) -> Path:
    """Where `goaltune export` writes parity.json: inside a merged folder, beside a GGUF file
    (FILE.gguf -> FILE.parity.json)."""
    export = Path(export)
    return export / PARITY if kind == "merged" else export.with_name(f"{export.stem}.{PARITY}")


def read_parity(path: Path) -> ParityRecord:
    return read_record(ParityRecord, path)


def write_parity(path: Path, record: ParityRecord) -> None:
    write_record(path, record)


# ---------------------------------------------------------------- naming and finding


def sanitize_name(name: str) -> str:
    """A run name safe as one folder name: no separators, no traversal, at most 80 chars."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-_")
    return cleaned[:80] or "run"


def create_run_dir(output_dir: str | Path, name: str) -> Path:
    """Create `output_dir/<name>-<UTC timestamp>/`, never reusing an existing folder."""
    root = Path(output_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"{root}: cannot create the runs folder ({error.strerror})") from error
    if not os.access(root, os.W_OK):
        raise RunError(f"{root}: the runs folder is not writable")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = f"{sanitize_name(name)}-{stamp}"
    for attempt in range(1000):
        candidate = root / (base if attempt == 0 else f"{base}-{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RunError(f"{root}: could not find a free run folder name for {base}")


def resolve_run_dir(run: str | Path, output_dir: str | Path = "runs") -> Path:
    """Find a run folder by path or by name under the runs folder (the newest match wins)."""
    path = Path(run)
    if path.is_dir():
        return path
    if path.is_absolute() or len(path.parts) > 1:
        raise RunError(f"{run}: no such run folder")
    matches = sorted(Path(output_dir).glob(f"{glob.escape(str(run))}*"))
    matches = [m for m in matches if m.is_dir()]
    if not matches:
        raise RunError(f"{run}: no such run folder")
    return matches[-1]
