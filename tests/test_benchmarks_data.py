"""Benchmark loaders: original file formats, data_dir layouts, specs and error messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks import join_specs, load_benchmark, resolve
from goaltune.evaluate.benchmarks.data import BUILTIN_DATA
from goaltune.evaluate.benchmarks.mmlu import SUBJECTS
from goaltune.evaluate.benchmarks.registry import (
    BENCHMARKS,
    FILE_KINDS,
    file_spec,
    spec_from_mapping,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")
MMLU_LOCAL = [
    "college_medicine",
    "global_facts",
    "high_school_computer_science",
    "high_school_mathematics",
    "professional_law",
]

ARC_ROW = {
    "id": "q1",
    "question": "Which is a gas?",
    "choices": {"text": ["rock", "steam"], "label": ["A", "B"]},
    "answerKey": "B",
}


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@needs_shared
@pytest.mark.parametrize(
    ("spec", "count"),
    [
        ("ifeval", 120),
        ("gsm8k", 100),
        ("arc_easy", 100),
        ("arc_challenge", 100),
        ("hellaswag", 100),
        (f"mmlu:{','.join(MMLU_LOCAL)}", 100),
    ],
)
def test_shared_data_loads_in_original_formats(spec, count):
    loaded = load_benchmark(spec, str(SHARED))
    assert len(loaded.items) == count
    assert loaded.source.startswith(str(SHARED))
    assert len(load_benchmark(spec, str(SHARED), limit=7).items) == (
        7 * len(MMLU_LOCAL) if spec.startswith("mmlu") else 7
    )


@needs_shared
@pytest.mark.parametrize(
    ("spec", "folder"),
    [
        ("ifeval", "ifeval"),
        ("gsm8k", "gsm8k"),
        ("arc_easy", "arc"),
        ("hellaswag", "hellaswag"),
        ("mmlu:global_facts", "mmlu"),
    ],
)
def test_data_dir_may_be_the_benchmark_folder(spec, folder):
    parent = load_benchmark(spec, str(SHARED), limit=3)
    own = load_benchmark(spec, str(SHARED / folder), limit=3)
    assert own.items == parent.items


@needs_shared
def test_mmlu_csv_records_span_lines():
    path = SHARED / "mmlu" / "college_medicine_test.csv"
    assert len(path.read_text(encoding="utf-8").splitlines()) > 20
    items = load_benchmark("mmlu:college_medicine", str(SHARED)).items
    assert len(items) == 20
    assert all(item.subject == "college_medicine" and len(item.choices) == 4 for item in items)
    assert items[0].context.startswith(
        "The following are multiple choice questions (with answers) about college medicine.\n\n"
    )
    assert items[0].context.endswith("\nD. " + _csv_records(path)[0][4] + "\nAnswer:")


def _csv_records(path: Path) -> list[list[str]]:
    import csv

    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@needs_shared
def test_item_fields_follow_the_rows():
    arc = load_benchmark("arc_challenge", str(SHARED), limit=1).items[0]
    row = json.loads((SHARED / "arc" / "ARC-Challenge-test.jsonl").read_text().splitlines()[0])
    assert arc.id == row["id"]
    assert arc.context == f"Question: {row['question']}\nAnswer:"
    assert arc.choices == row["choices"]["text"]
    assert arc.labels[arc.gold] == row["answerKey"]
    item, shots = load_benchmark("gsm8k", str(SHARED), limit=1).items[0]
    assert shots == [] and item.text.startswith("Question: ") and item.text.endswith("\nAnswer:")


@pytest.mark.skipif(not (BUILTIN_DATA / "mc_mini.jsonl").is_file(), reason="mc_mini.jsonl absent")
def test_builtin_mc_mini_loads():
    loaded = load_benchmark("builtin:mc-mini")
    assert len(loaded.items) >= 100
    assert all(item.subject for item in loaded.items)
    assert "mc_mini.jsonl" in loaded.source


@pytest.mark.skipif(
    not (BUILTIN_DATA / "ifeval_mini.jsonl").is_file(), reason="ifeval_mini.jsonl absent"
)
def test_builtin_ifeval_mini_loads():
    loaded = load_benchmark("builtin:ifeval-mini")
    assert len(loaded.items) >= 50
    assert loaded.settings["max_gen_toks"] == 128
    assert load_benchmark("builtin:ifeval-mini:max_gen_toks=64").settings["max_gen_toks"] == 64


def test_all_57_mmlu_subjects_are_known():
    assert len(SUBJECTS) == 57 and len(set(SUBJECTS)) == 57
    benchmark, options = resolve("mmlu:college_medicine,global_facts")
    assert benchmark.name == "mmlu" and options == "college_medicine,global_facts"


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = _write_lines(
        tmp_path / "arc" / "ARC-Easy-test.jsonl", [json.dumps(ARC_ROW), "", "{not json"]
    )
    with pytest.raises(BenchmarkError, match=rf"{path}, line 3: not valid JSON"):
        load_benchmark("arc_easy", str(tmp_path))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answerKey": "E"}, "answerKey 'E' is not one of the labels"),
        ({"question": None}, "field 'question' is missing or not a string"),
        ({"choices": {"text": ["a"], "label": ["A", "B"]}}, "same length"),
    ],
)
def test_invalid_arc_rows_name_the_line(tmp_path, change, message):
    path = _write_lines(
        tmp_path / "ARC-Challenge-test.jsonl",
        [json.dumps(ARC_ROW), json.dumps({**ARC_ROW, **change})],
    )
    with pytest.raises(BenchmarkError, match=rf"{path}, line 2: .*{message}"):
        load_benchmark("arc_challenge", str(tmp_path))


def test_invalid_rows_of_other_formats(tmp_path):
    _write_lines(tmp_path / "gsm8k" / "test.jsonl", [json.dumps({"question": "q"})])
    with pytest.raises(BenchmarkError, match="test.jsonl, line 1: field 'answer'"):
        load_benchmark("gsm8k", str(tmp_path))
    row = {
        "ind": 1,
        "activity_label": "x",
        "ctx_a": "a",
        "ctx_b": "b",
        "endings": ["e"] * 4,
        "label": 7,
    }
    _write_lines(tmp_path / "hellaswag" / "hellaswag_val.jsonl", [json.dumps(row)])
    with pytest.raises(
        BenchmarkError, match="hellaswag_val.jsonl, line 1: label 7 is out of range"
    ):
        load_benchmark("hellaswag", str(tmp_path))
    row = {"key": 1, "prompt": "p", "instruction_id_list": ["no:such"], "kwargs": [{}]}
    _write_lines(tmp_path / "ifeval" / "input_data.jsonl", [json.dumps(row)])
    with pytest.raises(BenchmarkError, match=r"input_data.jsonl, line 1: unknown instruction id"):
        load_benchmark("ifeval", str(tmp_path))


def test_malformed_mmlu_csv_names_the_record_start_line(tmp_path):
    path = tmp_path / "mmlu" / "anatomy_test.csv"
    path.parent.mkdir()
    path.write_text(
        '"Q1","a","b","c","d","A"\n"Q2\nspans lines","a","b","c","d","B"\n'
        '"Q3","a","b","c","d"\n"Q4","a","b","c","d","Z"\n',
        encoding="utf-8",
    )
    with pytest.raises(BenchmarkError, match=rf"{path}, line 4: expected 6 fields"):
        load_benchmark("mmlu:anatomy", str(tmp_path))
    path.write_text('"Q1","a","b","c","d","Z"\n', encoding="utf-8")
    with pytest.raises(BenchmarkError, match=rf"{path}, line 1: answer must be one of"):
        load_benchmark("mmlu:anatomy", str(tmp_path))


def test_missing_file_names_the_paths_tried(tmp_path):
    with pytest.raises(BenchmarkError, match=rf"{tmp_path / 'arc' / 'ARC-Easy-test.jsonl'}"):
        load_benchmark("arc_easy", str(tmp_path))
    with pytest.raises(BenchmarkError, match="virology_test.csv"):
        load_benchmark("mmlu:virology", str(tmp_path))


def test_unknown_benchmark_subject_and_option():
    with pytest.raises(BenchmarkError, match="unknown benchmark 'arc_hard'"):
        load_benchmark("arc_hard")
    with pytest.raises(BenchmarkError, match="unknown subject.*college_cooking"):
        load_benchmark("mmlu:anatomy,college_cooking")
    with pytest.raises(BenchmarkError, match="unknown option 'shots=3'"):
        load_benchmark("gsm8k:shots=3")
    with pytest.raises(BenchmarkError, match="not a valid int"):
        load_benchmark("builtin:ifeval-mini:max_gen_toks=many")
    with pytest.raises(BenchmarkError, match="unknown option"):
        load_benchmark("arc_easy:extra")


def test_hub_failure_is_a_benchmark_error(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(BenchmarkError, match=r"cannot load hf:allenai/ai2_arc/ARC-Easy \(test\)"):
        load_benchmark("arc_easy")


def test_join_specs_rejoins_comma_split_options():
    names = [
        "mmlu:college_medicine",
        "global_facts",
        "arc_easy",
        "gsm8k:num_fewshot=5",
        "max_gen_toks=64",
        "builtin:mc-mini",
        " ",
    ]
    assert join_specs(names) == [
        "mmlu:college_medicine,global_facts",
        "arc_easy",
        "gsm8k:num_fewshot=5,max_gen_toks=64",
        "builtin:mc-mini",
    ]
    with pytest.raises(BenchmarkError, match="unknown benchmark 'virology'"):
        resolve(join_specs(["arc_easy", "virology"])[1])


@needs_shared
def test_gsm8k_fewshot_from_train_file_next_to_test(tmp_path):
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    shutil.copy(SHARED / "gsm8k" / "test.jsonl", folder / "test.jsonl")
    train = [
        json.dumps({"question": f"What is {i} + 1?", "answer": f"{i} + 1 = {i + 1}\n#### {i + 1}"})
        for i in range(10)
    ]
    _write_lines(folder / "train.jsonl", train)
    loaded = load_benchmark("gsm8k:num_fewshot=3", str(tmp_path), limit=4)
    assert loaded.settings["fewshot_split"] == "train"
    assert all(
        len(shots) == 3 and all(s.question.startswith("What is") for s in shots)
        for _, shots in loaded.items
    )
    (folder / "train.jsonl").unlink()
    loaded = load_benchmark("gsm8k:num_fewshot=3", str(tmp_path), limit=4)
    assert loaded.settings["fewshot_split"] == "test"
    assert all(item not in shots and len(shots) == 3 for item, shots in loaded.items)


def test_file_specs_are_known_to_the_registry():
    parts = file_spec(" qa:data/qa.jsonl:extract=a:(b)")
    assert (parts.kind, parts.path, parts.options) == ("qa", "data/qa.jsonl", "extract=a:(b)")
    assert file_spec("mc:x.csv").options is None and file_spec("mc:x.csv").text() == "mc:x.csv"
    assert file_spec("mmlu:anatomy") is None and file_spec("builtin:mc-mini") is None
    resolve("arc_easy")  # discovers the benchmarks: every file kind is one of them
    assert set(FILE_KINDS) <= set(BENCHMARKS)


def test_spec_from_mapping():
    assert spec_from_mapping({"name": "builtin:mc-mini"}) == "builtin:mc-mini"
    assert spec_from_mapping({"name": "gsm8k:num_fewshot=5", "max_gen_toks": 9}) == (
        "gsm8k:num_fewshot=5,max_gen_toks=9"
    )
    assert spec_from_mapping({"name": "mc:x.jsonl:style=cloze", "primary": "acc_norm"}) == (
        "mc:x.jsonl:style=cloze,primary=acc_norm"
    )
    with pytest.raises(BenchmarkError, match="must be a string, number or true/false"):
        spec_from_mapping({"name": "gsm8k", "num_fewshot": [5]})
    with pytest.raises(BenchmarkError, match="mc: needs a file path"):
        spec_from_mapping({"name": "mc", "style": "cloze"})
