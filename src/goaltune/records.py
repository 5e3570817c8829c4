"""The one reader of record files: JSONL, JSON, CSV and Parquet, each record with its location.

Training data (`data.loading`), benchmark data (`evaluate.benchmarks.data`) and users' benchmark
files (`evaluate.benchmarks.user_files`) all read through here, each raising its own error type,
so every error names the file and the line, row or item (and callers add the field).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goaltune.errors import GoaltuneError

Error = type[GoaltuneError]


@dataclass(frozen=True)
class Location:
    """Where a record came from: a source and a 1-based line (JSONL, CSV), row or item."""

    source: str
    unit: str  # "line" | "row" | "item"
    number: int

    def __str__(self) -> str:
        return f"{self.source}, {self.unit} {self.number}"


@dataclass
class RawRecord:
    """One record as read, before any interpretation of its fields."""

    fields: dict[str, Any]
    location: Location


def read_jsonl(path: Path, error: Error) -> list[RawRecord]:
    """One JSON object per non-blank line."""
    records = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = Location(str(path), "line", number)
            try:
                value = json.loads(line)
            except json.JSONDecodeError as problem:
                raise error(f"{where}: not valid JSON ({problem.msg})") from problem
            except RecursionError as problem:
                raise error(f"{where}: JSON nested too deeply") from problem
            if not isinstance(value, dict):
                raise error(f"{where}: expected a JSON object, got {type(value).__name__}")
            records.append(RawRecord(value, where))
    return records


def read_json(path: Path, error: Error) -> list[RawRecord]:
    """A JSON list of objects, or an object holding exactly one such list."""
    try:
        value = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as problem:
        raise error(f"{path}, line {problem.lineno}: not valid JSON ({problem.msg})") from problem
    except RecursionError as problem:
        raise error(f"{path}: JSON nested too deeply") from problem
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise error(f"{path}: expected a list of records (or an object holding one list)")
        value = lists[0]
    if not isinstance(value, list):
        raise error(f"{path}: expected a list of records, got {type(value).__name__}")
    records = []
    for number, item in enumerate(value, start=1):
        where = Location(str(path), "item", number)
        if not isinstance(item, dict):
            raise error(f"{where}: expected a JSON object, got {type(item).__name__}")
        records.append(RawRecord(item, where))
    return records


def read_csv(
    path: Path, error: Error, fields: list[str] | None = None, unit: str = "line"
) -> list[RawRecord]:
    """CSV records keyed by the header row, or by `fields` for a file without one.

    Quoted cells may span lines; a record's location is the line it starts on (named `unit`:
    training data has always called it the row). Blank records are skipped; any other record
    must have one cell per field.
    """
    header = fields is None
    records = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        start = 1
        try:
            if fields is None:
                fields = [name.strip() for name in next(reader, [])]
                if not any(fields):
                    raise error(f"{path}: CSV file has no header row")
                start = reader.line_num + 1
            for cells in reader:
                where = Location(str(path), unit, start)
                start = reader.line_num + 1
                if not any(cell.strip() for cell in cells):
                    continue
                if header and len(cells) > len(fields):
                    raise error(
                        f"{where}: {len(cells) - len(fields)} more value(s) than the header "
                        f"columns ({', '.join(fields)})"
                    )
                if len(cells) != len(fields):
                    raise error(
                        f"{where}: expected {len(fields)} fields ({', '.join(fields)}), "
                        f"got {len(cells)}"
                    )
                records.append(RawRecord(dict(zip(fields, cells)), where))
        except csv.Error as problem:
            raise error(f"{path}, {unit} {start}: malformed CSV ({problem})") from problem
    return records


def read_parquet(path: Path, error: Error) -> list[RawRecord]:
    """Every row of a Parquet file (needs pyarrow)."""
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as problem:  # pyarrow raises several types for a bad file
        raise error(f"{path}: cannot read Parquet file ({problem})") from problem
    return [RawRecord(row, Location(str(path), "row", i)) for i, row in enumerate(rows, start=1)]


READERS: dict[str, Callable[[Path, Error], list[RawRecord]]] = {
    ".jsonl": read_jsonl,
    ".ndjson": read_jsonl,
    ".json": read_json,
    ".csv": read_csv,
    ".parquet": read_parquet,
}


def read_file(path: Path, error: Error, csv_unit: str = "line") -> list[RawRecord]:
    """The records of an existing file, read by its suffix (see `READERS`); may be empty."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise error(f"{path}: unsupported file type '{path.suffix}' (use {', '.join(READERS)})")
    try:
        if reader is read_csv:
            return read_csv(path, error, unit=csv_unit)
        return reader(path, error)
    except UnicodeDecodeError as problem:
        bad = problem.object[problem.start : problem.start + 1].hex()
        raise error(f"{path}: not UTF-8 text (byte 0x{bad}); save it as UTF-8") from problem
