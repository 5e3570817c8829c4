"""The corpus in tests/data/bad: one clear `error:` line, exit code 2, finished runs untouched."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import pytest
from typer.testing import CliRunner

from goaltune.cli import app
from goaltune.config import load_config
from tests.conftest import build_tiny_model, copy_fixture_run

TESTS = Path(__file__).resolve().parent
BAD = TESTS / "data" / "bad"
FINISHED = "finished-20260101T000000Z"


class Case(NamedTuple):
    """A config in tests/data/bad run by `command`; the error line must contain `expected`."""

    name: str
    command: str
    expected: str
    tiny_model: bool = True


CASES = [
    Case("malformed_json", "run", "malformed_json.jsonl, line 3: not valid JSON"),
    Case("missing_field", "train", "missing_field.jsonl, line 2: missing field 'completion'"),
    Case(
        "wrong_field_type",
        "run",
        "wrong_field_type.jsonl, line 2: field 'completion' must be a string, got int",
    ),
    Case(
        "unknown_role", "run", "unknown_role.jsonl, line 2: messages[1].role: unknown role 'robot'"
    ),
    Case(
        "unknown_format",
        "run",
        "unknown_format.jsonl, line 1: cannot tell the data format from fields [answer, question]",
    ),
    Case("empty_file", "train", "empty.jsonl: no records (the file is empty)"),
    Case(
        "csv_extra_values",
        "run",
        "extra_values.csv, row 3: 1 more value(s) than the header columns (prompt, completion)",
    ),
    Case("not_utf8", "run", "not_utf8.jsonl: not UTF-8 text (byte 0xe9)"),
    Case(
        "all_too_long",
        "run",
        "all_too_long.jsonl: no usable training examples: all 6 were dropped under "
        "data.truncation=drop (6 longer than max_seq_length; 0 truncated); "
        "raise train.max_seq_length (now 8)",
    ),
    Case(
        "validation_split_too_large",
        "train",
        "two_examples.jsonl: data.validation_split=0.9 takes 2 of the 2 examples and leaves no "
        "training data",
    ),
    Case(
        "test_without_prompt",
        "run",
        "test_without_prompt.jsonl, line 1: a test item needs a user prompt",
    ),
    Case(
        "config_wrong_type",
        "run",
        "config_wrong_type.yaml: train.learning_rate: Input should be a valid number",
    ),
    Case(
        "config_unknown_key", "train", "config_unknown_key.yaml: unknown key 'train.lerning_rate'"
    ),
    Case(
        "config_not_yaml",
        "run",
        "config_not_yaml.yaml, line 4, column 5: not valid YAML "
        "(expected ',' or ']', but got ':' while parsing a flow sequence)",
    ),
    Case("model_bad_gguf", "run", "x.gguf: not a GGUF model file", tiny_model=False),
    Case(
        "model_no_config",
        "run",
        "not_a_model: not a model folder (no config.json)",
        tiny_model=False,
    ),
    Case("model_bad_config", "train", "broken_model: cannot load model", tiny_model=False),
    Case("model_missing", "run", "./no-such-model: model path does not exist", tiny_model=False),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_and_tokenizer) -> Path:
    _, tokenizer = tiny_model_and_tokenizer
    folder = tmp_path_factory.mktemp("tiny-model")
    build_tiny_model(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A runs folder holding one finished run; no network, a private GGUF cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GOALTUNE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "runs"
    copy_fixture_run(folder / FINISHED)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def assert_one_error_line(output: str, expected: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert expected in lines[0] and "Traceback" not in output


def assert_finished_run_untouched(runs: Path, before: dict[str, bytes]) -> None:
    assert snapshot(runs / FINISHED) == before
    for folder in runs.iterdir():  # a run started before the error is marked failed
        if folder.is_dir() and folder.name != FINISHED:
            assert json.loads((folder / "status.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_config_or_data_is_one_error_line(case: Case, runs: Path, model_dir: Path) -> None:
    before = snapshot(runs / FINISHED)
    args = [case.command, str(BAD / f"{case.name}.yaml"), "--quiet", "--set", f"output_dir={runs}"]
    if case.tiny_model:
        args += ["--set", f"model.name_or_path={model_dir}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert_one_error_line(result.output, case.expected)
    assert_finished_run_untouched(runs, before)


def test_benchmark_data_in_the_wrong_format(runs: Path, model_dir: Path) -> None:
    before = snapshot(runs / FINISHED)
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--model",
            str(model_dir),
            "--benchmarks",
            "arc_easy",
            "--quiet",
            "--data-dir",
            str(BAD / "arc_wrong_format"),
            "--out",
            str(runs / FINISHED / "eval.json"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert_one_error_line(
        result.output, "ARC-Easy-test.jsonl, line 1: field 'choices' is missing or not an object"
    )
    assert_finished_run_untouched(runs, before)


def test_output_folder_below_a_file(runs: Path, model_dir: Path) -> None:
    before = snapshot(runs / FINISHED)
    (runs / "blocker").write_text("a file where a folder is expected")
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(BAD / "output_not_writable.yaml"),
            "--quiet",
            "--set",
            f"output_dir={runs / 'blocker' / 'out'}",
            "--set",
            f"model.name_or_path={model_dir}",
        ],
    )
    assert result.exit_code == 2, result.output
    assert_one_error_line(result.output, "blocker/out: cannot create the runs folder")
    assert_finished_run_untouched(runs, before)


def test_output_folder_without_write_permission(runs: Path, model_dir: Path) -> None:
    locked = runs / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):
        pytest.skip("running as root: permission bits do not stop writes")
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(BAD / "output_not_writable.yaml"),
            "--quiet",
            "--set",
            f"output_dir={locked}",
            "--set",
            f"model.name_or_path={model_dir}",
        ],
    )
    assert result.exit_code == 2
    assert_one_error_line(result.output, "locked: the runs folder is not writable")


def test_relative_data_paths_resolve_next_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "valid.jsonl").write_text("{}\n")
    config = load_config(BAD / "test_without_prompt.yaml")
    assert config.data.train == "valid.jsonl"  # found in the working folder: kept as given
    assert config.data.test == str(BAD / "test_without_prompt.jsonl")
    assert load_config(BAD / "model_bad_gguf.yaml").model.name_or_path == str(BAD / "x.gguf")
    assert load_config(BAD / "malformed_json.yaml").model.name_or_path == "smollm2-135m-instruct"
