"""Benchmark data sources: the Hugging Face Hub, a local data_dir, or goaltune's package data.

A local data_dir holds files in the original release formats, either directly or in one
subfolder per benchmark (`ifeval/ gsm8k/ arc/ hellaswag/ mmlu/`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from goaltune import records
from goaltune.errors import BenchmarkError
from goaltune.records import RawRecord

BUILTIN_DATA = Path(__file__).resolve().with_name("builtin_data")

_KIND_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


@dataclass(frozen=True)
class Row:
    """One raw record and where it came from (`file, line N` or `hub source, row N`)."""

    data: dict[str, Any]
    where: str

    def fail(self, message: str) -> NoReturn:
        raise BenchmarkError(f"{self.where}: {message}")

    def get(self, key: str, kind: type) -> Any:
        """The field's value, which must exist and have type `kind` (bool is not an int)."""
        value = self.data.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(f"field '{key}' is missing or not {_KIND_NAMES.get(kind, kind.__name__)}")
        return value

    def strings(self, key: str, value: Any = None) -> list[str]:
        """A list-of-strings field (or `value`, reported under `key`)."""
        value = self.get(key, list) if value is None else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"field '{key}' must be a list of strings")
        return value


def local_file(data_dir: str | Path, folder: str, filename: str) -> Path:
    """`data_dir/folder/filename`, else `data_dir/filename`; BenchmarkError naming both."""
    root = Path(data_dir).expanduser()
    candidates = (root / folder / filename, root / filename)
    for path in candidates:
        if path.is_file():
            return path
    raise BenchmarkError(
        f"missing benchmark data file: neither {candidates[0]} nor {candidates[1]} exists"
    )


def _rows(records: list[RawRecord]) -> list[Row]:
    return [Row(record.fields, str(record.location)) for record in records]


def read_jsonl(path: Path) -> list[Row]:
    """One JSON object per non-blank line; errors name the file and line."""
    if not path.is_file():
        raise BenchmarkError(f"missing benchmark data file: {path}")
    return _rows(records.read_jsonl(path, BenchmarkError))


def read_csv(path: Path, fields: list[str]) -> list[Row]:
    """Header-less CSV records (quoted fields may span lines); errors name the starting line."""
    if not path.is_file():
        raise BenchmarkError(f"missing benchmark data file: {path}")
    return _rows(records.read_csv(path, BenchmarkError, fields))


def read_file(path: Path) -> list[Row]:
    """The records of a JSONL, JSON, CSV (with a header) or Parquet file."""
    if not path.is_file():
        raise BenchmarkError(f"missing benchmark data file: {path}")
    return _rows(records.read_file(path, BenchmarkError))


def hub_rows(path: str, name: str | None, split: str) -> tuple[list[Row], str]:
    """Rows of a Hub dataset split, with the source string `hf:path/name (split)`."""
    source = f"hf:{path}" + (f"/{name}" if name else "") + f" ({split})"
    try:
        from datasets import load_dataset

        dataset = load_dataset(path, name, split=split)
    except Exception as error:  # noqa: BLE001 - datasets raises many types (offline, config)
        raise BenchmarkError(
            f"cannot load {source} from the Hugging Face Hub ({type(error).__name__}: {error}); "
            "pass a local benchmark data folder instead"
        ) from error
    return [Row(dict(row), f"{source}, row {i}") for i, row in enumerate(dataset)], source


def load_rows(
    data_dir: str | None, folder: str, filename: str, hub: tuple[str, str | None, str]
) -> tuple[list[Row], str]:
    """Rows from `data_dir` (original file layout) when given, else from the Hub."""
    if data_dir is None:
        return hub_rows(*hub)
    path = local_file(data_dir, folder, filename)
    return read_jsonl(path), str(path)


def builtin_rows(filename: str) -> tuple[list[Row], str]:
    """Rows of a JSONL file shipped in goaltune's builtin_data."""
    path = BUILTIN_DATA / filename
    return read_jsonl(path), f"goaltune builtin_data/{filename}"
