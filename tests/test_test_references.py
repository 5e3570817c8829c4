"""Test files name the reference as other eval tools do; two names in one record are an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goaltune.config import DataConfig
from goaltune.data import load_task_items
from goaltune.errors import DataError


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize(
    "name", ["completion", "reference", "target", "answer", "expected", "ideal", "output"]
)
def test_a_prompt_file_loads_with_any_reference_name(tmp_path: Path, name: str) -> None:
    rows = [{"id": f"q{i}", "prompt": f"2 + {i} =", name: str(2 + i)} for i in range(3)]
    test = write_jsonl(tmp_path / "test.jsonl", rows)
    items = load_task_items(DataConfig(train="unused.jsonl", test=str(test)))
    assert [item["reference"] for item in items] == ["2", "3", "4"]
    assert [item["messages"] for item in items][0] == [{"role": "user", "content": "2 + 0 ="}]
    assert all(name not in item or name == "reference" for item in items)


def test_an_instruction_file_loads_with_an_answer(tmp_path: Path) -> None:
    rows = [{"instruction": "Capital of France?", "input": "", "answer": "Paris"}]
    test = write_jsonl(tmp_path / "test.jsonl", rows)
    (item,) = load_task_items(DataConfig(train="unused.jsonl", test=str(test)))
    assert item["reference"] == "Paris"


def test_a_csv_test_file_with_a_target_column_loads(tmp_path: Path) -> None:
    test = tmp_path / "test.csv"
    test.write_text("prompt,target\nSay yes,yes\nSay no,no\n")
    items = load_task_items(DataConfig(train="unused.jsonl", test=str(test)))
    assert [item["reference"] for item in items] == ["yes", "no"]


def test_two_reference_names_are_an_error_naming_both_the_file_and_the_line(
    tmp_path: Path,
) -> None:
    rows = [
        {"prompt": "a", "reference": "b"},
        {"prompt": "c", "completion": "d", "answer": "e"},
    ]
    test = write_jsonl(tmp_path / "test.jsonl", rows)
    with pytest.raises(DataError) as raised:
        load_task_items(DataConfig(train="unused.jsonl", test=str(test)))
    message = str(raised.value)
    assert f"{test}, line 2" in message
    assert "'completion'" in message and "'answer'" in message
