"""Users' own benchmark files (`mc:PATH`, `qa:PATH`, `code:PATH`): record reading.

The spec (`KIND:PATH[:OPTIONS]`) is parsed by the registry (`registry.split_path`).
Files are JSONL (`.jsonl`, `.ndjson`: one object a line), JSON (`.json`: a list of objects), CSV
(`.csv`: a header row naming the fields, then one record per row) or Parquet, read by
`goaltune.records`. Every record keeps where it came from (`file, line N` or `file, item N`), so
errors name the file, the line and the field.
"""

from __future__ import annotations

from pathlib import Path

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks.data import Row, read_file


def read_records(path: Path) -> list[Row]:
    """The records of a JSONL, JSON, CSV or Parquet file; BenchmarkError when none can be read."""
    rows = read_file(path)
    if path.suffix.lower() == ".csv":
        # a CSV row has a cell for every column: a blank one means the optional field is absent
        rows = [Row({k: v for k, v in row.data.items() if v.strip()}, row.where) for row in rows]
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
