"""Users' own benchmark files (`mc:PATH`, `qa:PATH`, `code:PATH`): record reading.

The spec (`KIND:PATH[:OPTIONS]`) is parsed by the registry (`registry.split_path`).
Files are JSONL (`.jsonl`, `.ndjson`: one object a line), JSON (`.json`: a list of objects) or
CSV (`.csv`: a header row naming the fields, then one record per row). Every record keeps where
it came from (`file, line N` or `file, item N`), so errors name the file, the line and the field.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks.data import Row, read_jsonl

SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv")


def _read_json_list(path: Path) -> list[Row]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BenchmarkError(
            f"{path}, line {error.lineno}: not valid JSON ({error.msg})"
        ) from error
    if not isinstance(value, list):
        raise BenchmarkError(f"{path}: expected a JSON list of objects")
    rows = []
    for number, record in enumerate(value, start=1):
        if not isinstance(record, dict):
            raise BenchmarkError(f"{path}, item {number}: expected a JSON object")
        rows.append(Row(record, f"{path}, item {number}"))
    return rows


def _read_csv_with_header(path: Path) -> list[Row]:
    """Records keyed by the header; empty cells are left out (optional fields may be blank)."""
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader, [])]
            if not any(header):
                raise BenchmarkError(f"{path}: empty CSV file (expected a header row)")
            start = reader.line_num + 1
            for record in reader:
                where = f"{path}, line {start}"
                start = reader.line_num + 1
                if not any(cell.strip() for cell in record):
                    continue
                if len(record) != len(header):
                    raise BenchmarkError(
                        f"{where}: expected {len(header)} fields "
                        f"({', '.join(header)}), got {len(record)}"
                    )
                rows.append(Row({k: v for k, v in zip(header, record) if v.strip()}, where))
        except csv.Error as error:
            where = f"{path}, line {reader.line_num}"
            raise BenchmarkError(f"{where}: malformed CSV ({error})") from error
    return rows


def read_records(path: Path) -> list[Row]:
    """The records of a JSONL, JSON-list or CSV file; BenchmarkError when none can be read."""
    if not path.is_file():
        raise BenchmarkError(f"missing benchmark data file: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise BenchmarkError(
            f"{path}: unsupported file type '{suffix}' (use one of {', '.join(SUFFIXES)})"
        )
    if suffix == ".csv":
        rows = _read_csv_with_header(path)
    elif suffix == ".json":
        rows = _read_json_list(path)
    else:
        rows = read_jsonl(path)
    if not rows:
        raise BenchmarkError(f"{path}: no items")
    return rows


def text_field(row: Row, *keys: str, required: bool = True) -> str | None:
    """The first of `keys` present, as a non-empty string (numbers in JSON are not text)."""
    for key in keys:
        if key in row.data:
            value = row.data[key]
            if not isinstance(value, str) or not value.strip():
                row.fail(f"field '{key}' must be a non-empty string")
            return value
    if required:
        row.fail(f"field '{keys[0]}' is missing")
    return None
