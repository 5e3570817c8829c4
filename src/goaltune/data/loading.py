"""Read raw records from files (JSONL, JSON, CSV, Parquet), the Hub (`hf:`), built-ins (`builtin:`).

Every record remembers where it came from (`Location`) so later errors can name file, line, field.
Files are read by `goaltune.records`, the reader benchmark files share.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from goaltune.errors import DataError
from goaltune.records import Location, RawRecord, read_file

__all__ = ["Location", "RawRecord", "builtin_names", "fingerprint", "read_records"]


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
        records = read_file(path, DataError, csv_unit="row")
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
