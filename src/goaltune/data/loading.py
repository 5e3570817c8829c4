"""Read raw records from files (JSONL, JSON, CSV, Parquet), the Hub (`hf:`), built-ins (`builtin:`).

Every record remembers where it came from (`Location`) so later errors can name file, line, field.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goaltune.errors import DataError


@dataclass(frozen=True)
class Location:
    """Where a record came from: a source and a 1-based line (JSONL), row (CSV) or index."""

    source: str
    unit: str  # "line" | "row" | "item"
    number: int

    def __str__(self) -> str:
        return f"{self.source}, {self.unit} {self.number}"


@dataclass
class RawRecord:
    """One record as read, before format normalization."""

    fields: dict[str, Any]
    location: Location


def _builtin_sources() -> dict[str, tuple[Callable[[], list[dict]], Callable[[], list[dict]]]]:
    from goaltune.data.builtin import brand_voice, json_api

    return {
        "json-api": (json_api.generate_train, json_api.generate_test),
        "brand-voice": (brand_voice.generate_train, brand_voice.generate_test),
    }


def builtin_names() -> list[str]:
    """Names usable as `builtin:<name>`."""
    return sorted(_builtin_sources())


def _builtin(name: str, split: str) -> list[dict]:
    sources = _builtin_sources()
    if name not in sources:
        raise DataError(f"builtin:{name}: unknown built-in dataset (known: {', '.join(sources)})")
    train, test = sources[name]
    return train() if split == "train" else test()


def _read_jsonl(path: Path) -> list[RawRecord]:
    records = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}, line {number}: not valid JSON ({error.msg})") from error
            except RecursionError as error:
                raise DataError(f"{path}, line {number}: JSON nested too deeply") from error
            if not isinstance(value, dict):
                raise DataError(
                    f"{path}, line {number}: expected a JSON object, got {type(value).__name__}"
                )
            records.append(RawRecord(value, Location(str(path), "line", number)))
    return records


def _read_json(path: Path) -> list[RawRecord]:
    try:
        value = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}, line {error.lineno}: not valid JSON ({error.msg})") from error
    except RecursionError as error:
        raise DataError(f"{path}: JSON nested too deeply") from error
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataError(f"{path}: expected a list of records (or an object holding one list)")
        value = lists[0]
    if not isinstance(value, list):
        raise DataError(f"{path}: expected a list of records, got {type(value).__name__}")
    records = []
    for index, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise DataError(f"{path}, item {index}: expected an object, got {type(item).__name__}")
        records.append(RawRecord(item, Location(str(path), "item", index)))
    return records


def _read_csv(path: Path) -> list[RawRecord]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            if not reader.fieldnames:
                raise DataError(f"{path}: CSV file has no header row")
            return [_csv_record(path, row, reader) for row in reader]
        except csv.Error as error:
            raise DataError(f"{path}, row {reader.line_num}: malformed CSV ({error})") from error


def _csv_record(path: Path, row: dict[Any, Any], reader: csv.DictReader) -> RawRecord:
    if None in row:
        header = ", ".join(reader.fieldnames or [])
        raise DataError(
            f"{path}, row {reader.line_num}: {len(row[None])} more value(s) than the "
            f"header columns ({header})"
        )
    return RawRecord(dict(row), Location(str(path), "row", reader.line_num))


def _read_parquet(path: Path) -> list[RawRecord]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as error:  # pyarrow raises several types for a bad file
        raise DataError(f"{path}: cannot read Parquet file ({error})") from error
    return [RawRecord(row, Location(str(path), "row", i)) for i, row in enumerate(rows, start=1)]


_READERS = {
    ".jsonl": _read_jsonl,
    ".json": _read_json,
    ".csv": _read_csv,
    ".parquet": _read_parquet,
}


def _read_hub(spec: str) -> list[RawRecord]:
    from datasets import load_dataset

    name, _, split = spec.partition(":")
    try:
        dataset = load_dataset(name, split=split or "train")
    except Exception as error:  # offline, missing or private datasets all land here
        raise DataError(f"hf:{spec}: cannot load Hub dataset ({error})") from error
    return [
        RawRecord(dict(row), Location(f"hf:{spec}", "row", i)) for i, row in enumerate(dataset, 1)
    ]


def read_records(source: str, split: str = "train") -> list[RawRecord]:
    """Read every record of a data source; raises DataError naming the source on any problem."""
    if source.startswith("builtin:"):
        items = _builtin(source.removeprefix("builtin:"), split)
        return [RawRecord(item, Location(source, "item", i)) for i, item in enumerate(items, 1)]
    if source.startswith("hf:"):
        records = _read_hub(source.removeprefix("hf:"))
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise DataError(f"{source}: data file not found")
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            known = ", ".join(_READERS)
            raise DataError(f"{source}: unsupported file type '{path.suffix}' (use {known})")
        try:
            records = reader(path)
        except UnicodeDecodeError as error:
            bad = error.object[error.start : error.start + 1].hex()
            raise DataError(f"{source}: not UTF-8 text (byte 0x{bad}); save it as UTF-8") from error
    if not records:
        raise DataError(f"{source}: no records (the file is empty)")
    return records


def fingerprint(records: list[RawRecord]) -> str:
    """sha256 over the records' canonical JSON, so identical data gives identical fingerprints."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(record.fields, sort_keys=True, default=str).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
