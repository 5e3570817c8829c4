"""loss_history.csv: one row per logged step, appended and synced as training goes."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from goaltune.errors import DataError, RunError
from goaltune.run_folder.files import atomic_write_text, write_failure
from goaltune.run_folder.schema import INT_COLUMNS, LOSS_COLUMNS, LossRow


class LossHistoryWriter:
    """Appends rows to loss_history.csv, each synced to disk, so a crash keeps every logged row.

    A failed write (disk full) is cut off again, so the file never ends in a partial row.
    """

    def __init__(self, path: str | Path, append: bool = False) -> None:
        self.path = Path(path)
        new_file = not (append and self.path.is_file())
        mode = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if new_file else os.O_APPEND)
        try:
            self._fd = os.open(self.path, mode, 0o644)
        except OSError as error:
            raise write_failure(self.path, error) from error
        if new_file:
            self._write(LOSS_COLUMNS)

    def _write(self, values: Any) -> None:
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(values)
        data = line.getvalue().encode("utf-8")
        size = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while data:
                data = data[os.write(self._fd, data) :]
            os.fsync(self._fd)
        except OSError as error:
            os.ftruncate(self._fd, size)
            raise write_failure(self.path, error) from error

    def append(self, row: dict[str, Any]) -> None:
        """Write one logged step; missing columns stay empty."""
        self._write([_csv_value(row.get(key)) for key in LOSS_COLUMNS])

    def close(self) -> None:
        os.close(self._fd)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e-3 and value != 0 else round(value, 6)
    return value


def truncate_loss_history(path: str | Path, last_step: int) -> None:
    """Drop rows logged after `last_step` (they belong to steps a resume will redo)."""
    path = Path(path)
    if not path.is_file():
        return
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= last_step]
    lines = [",".join(LOSS_COLUMNS)] + [",".join(row[c] for c in LOSS_COLUMNS) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _parse_cell(value: str | None, column: str, where: str) -> float | int | None:
    """One CSV cell: empty is None, integer columns are int, others float ('nan'/'inf' allowed)."""
    if value is None or value.strip() == "":
        if column == "step":
            raise DataError(f"{where}: step: empty")
        return None
    try:
        return int(value) if column in INT_COLUMNS else float(value)
    except ValueError as error:
        raise DataError(f"{where}: {column}: not a number ({value!r})") from error


def read_loss_history(path: str | Path) -> list[LossRow]:
    """Rows of loss_history.csv as dicts of numbers; an empty cell (e.g. `val_loss`) is None.

    A missing file raises RunError; a missing column or a cell that is not a number raises
    DataError naming the file, the line and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: loss history not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in LOSS_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing columns {', '.join(missing)}")
        return [_parse_row(row, f"{path}: line {reader.line_num}") for row in reader]


def _parse_row(row: dict[str, str], where: str) -> LossRow:
    return {c: _parse_cell(row[c], c, where) for c in LOSS_COLUMNS}  # type: ignore[return-value]
