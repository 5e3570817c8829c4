"""The run folder, goaltune's contract with people and programs: layout, typed files, writes.

Everything after training (verdict, report, compare, export, chat) reads a run through this
package; `docs/RUN_FOLDER.md` describes the same files for readers without goaltune.
"""

from goaltune.run_folder.files import (
    atomic_write_text,
    read_json,
    utc_now,
    write_failure,
    write_json,
    write_yaml,
)
from goaltune.run_folder.layout import (
    RunFolder,
    SweepFolder,
    create_run_dir,
    dump_record,
    parse_record,
    resolve_run_dir,
    sanitize_name,
    validation_message,
)
from goaltune.run_folder.loss_history import (
    LossHistoryWriter,
    read_loss_history,
    truncate_loss_history,
)
from goaltune.run_folder.schema import (
    FORMAT_VERSION,
    LOSS_COLUMNS,
    AuditRecord,
    BenchmarkResult,
    DeltaRecord,
    EvalResult,
    FindingRecord,
    FlipRecord,
    GoalRow,
    GoalWatchSummary,
    LossRow,
    RunStatus,
    ScoredItem,
    ScoredSet,
    ScoreSummary,
    TaskResult,
    TrainingMetrics,
    VerdictRecord,
)

__all__ = [
    "FORMAT_VERSION",
    "LOSS_COLUMNS",
    "AuditRecord",
    "BenchmarkResult",
    "DeltaRecord",
    "EvalResult",
    "FindingRecord",
    "FlipRecord",
    "GoalRow",
    "GoalWatchSummary",
    "LossHistoryWriter",
    "LossRow",
    "RunFolder",
    "RunStatus",
    "ScoreSummary",
    "ScoredItem",
    "ScoredSet",
    "SweepFolder",
    "TaskResult",
    "TrainingMetrics",
    "VerdictRecord",
    "atomic_write_text",
    "create_run_dir",
    "dump_record",
    "parse_record",
    "read_json",
    "read_loss_history",
    "resolve_run_dir",
    "sanitize_name",
    "truncate_loss_history",
    "utc_now",
    "validation_message",
    "write_failure",
    "write_json",
    "write_yaml",
]
