"""The one record reader: every format, locations, and errors in the caller's error type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goaltune.errors import BenchmarkError, DataError
from goaltune.records import read_file


def test_formats_read_the_same_records_with_their_locations(tmp_path: Path) -> None:
    rows = [{"q": "a", "r": "b"}, {"q": "c", "r": "d"}]
    (tmp_path / "x.jsonl").write_text("".join(json.dumps(r) + "\n\n" for r in rows))
    (tmp_path / "x.json").write_text(json.dumps({"data": rows}))
    (tmp_path / "x.csv").write_text('q, r\na,b\n\n"c",d\n')
    read = {s: read_file(tmp_path / f"x{s}", DataError) for s in (".jsonl", ".json", ".csv")}
    assert all([r.fields for r in records] == rows for records in read.values())
    assert [str(r.location).split(", ")[1] for r in read[".jsonl"]] == ["line 1", "line 3"]
    assert [str(r.location).split(", ")[1] for r in read[".json"]] == ["item 1", "item 2"]
    assert [str(r.location).split(", ")[1] for r in read[".csv"]] == ["line 2", "line 4"]


def test_errors_name_the_file_and_line_in_the_callers_type(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("q,r\na,b\nc\n")
    with pytest.raises(BenchmarkError, match=r"short\.csv, line 3: expected 2 fields \(q, r\)"):
        read_file(path, BenchmarkError)
    with pytest.raises(DataError, match=r"short\.csv, row 3: expected 2 fields"):
        read_file(path, DataError, csv_unit="row")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DataError, match="unsupported file type '.txt'"):
        read_file(tmp_path / "x.txt", DataError)
