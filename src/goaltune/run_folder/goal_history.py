"""goal_history.csv: one row per goal evaluation during training (train.goal_eval_steps).

Columns: step, epoch, tokens_seen, elapsed_s, then `task:<metric>` per task metric and
`guard:<benchmark>` per guard benchmark. The whole file is rewritten atomically after each
evaluation: it holds a few dozen rows at most, and a resume rewrites it from the checkpoint.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from goaltune.errors import DataError, RunError
from goaltune.run_folder.files import atomic_write_text
from goaltune.run_folder.schema import (
    GOAL_FIXED_COLUMNS,
    GOAL_GUARD_PREFIX,
    GOAL_TASK_PREFIX,
    GoalRow,
)


def goal_columns(row: GoalRow) -> list[str]:
    """The header a file of rows like `row` has."""
    return [
        *GOAL_FIXED_COLUMNS,
        *(GOAL_TASK_PREFIX + name for name in row.task),
        *(GOAL_GUARD_PREFIX + name for name in row.guards),
    ]


def _cell(value: float | int | None) -> str:
    return "" if value is None else repr(value)


def write_goal_history(path: str | Path, rows: list[GoalRow]) -> None:
    """Write every row (columns from the first); scores keep full float precision."""
    if not rows:
        return
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(goal_columns(rows[0]))
    for row in rows:
        fixed = [row.step, row.epoch, row.tokens_seen, row.elapsed_s]
        scores = [*row.task.values(), *row.guards.values()]
        writer.writerow([_cell(v) for v in (*fixed, *scores)])
    atomic_write_text(Path(path), out.getvalue())


def _number(value: str, column: str, where: str) -> float | None:
    if value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError as error:
        raise DataError(f"{where}: {column}: not a number ({value!r})") from error


def _parse_row(row: dict[str, str], where: str) -> GoalRow:
    fixed = {c: _number(row[c], c, where) for c in GOAL_FIXED_COLUMNS}
    if any(fixed[c] is None for c in GOAL_FIXED_COLUMNS):
        raise DataError(f"{where}: step, epoch, tokens_seen and elapsed_s must not be empty")
    scores = {c: _number(v, c, where) for c, v in row.items() if c not in GOAL_FIXED_COLUMNS}
    return GoalRow(
        step=int(fixed["step"] or 0),
        epoch=float(fixed["epoch"] or 0.0),
        tokens_seen=int(fixed["tokens_seen"] or 0),
        elapsed_s=float(fixed["elapsed_s"] or 0.0),
        task={
            c.removeprefix(GOAL_TASK_PREFIX): v
            for c, v in scores.items()
            if c.startswith(GOAL_TASK_PREFIX)
        },
        guards={
            c.removeprefix(GOAL_GUARD_PREFIX): v
            for c, v in scores.items()
            if c.startswith(GOAL_GUARD_PREFIX)
        },
    )


def read_goal_history(path: str | Path) -> list[GoalRow]:
    """The rows of goal_history.csv; a missing file raises RunError, a bad cell DataError."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: goal history not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in GOAL_FIXED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing columns {', '.join(missing)}")
        return [_parse_row(row, f"{path}: line {reader.line_num}") for row in reader]
