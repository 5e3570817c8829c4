"""The domain example files: generated from their script, valid for mc:/qa:/code:, and the
example config makes the domain test set its task metric."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from goaltune.config import load_config
from goaltune.data import prepare_training_data
from goaltune.evaluate.benchmarks import load_benchmark
from goaltune.evaluate.benchmarks.user_code import program
from goaltune.evaluate.sandbox import ALLOW_ENV, Limits, run_python

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DATA = EXAMPLES / "data"


def test_the_files_are_what_the_script_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_domain_data", DATA / "make_domain_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in ("domain-train.jsonl", "domain-mc-test.jsonl", "domain-qa-test.jsonl"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_mc_and_qa_sets_load():
    mc = load_benchmark(f"mc:{DATA / 'domain-mc-test.jsonl'}:style=cloze")
    assert len(mc.items) == 33 and mc.settings["subjects"] == ["company", "product", "support"]
    assert {item.gold for item in mc.items} == {0, 1, 2, 3}
    qa = load_benchmark(f"qa:{DATA / 'domain-qa-test.jsonl'}")
    assert len(qa.items) == 33 and all(item["references"] for item in qa.items)


def test_code_set_solutions_pass_and_stubs_fail(monkeypatch):
    monkeypatch.setenv(ALLOW_ENV, "1")
    items = load_benchmark(f"code:{DATA / 'code-test.jsonl'}:reference=true").items
    assert len(items) == 8
    limits = Limits(timeout_s=5)
    for item in items:
        assert run_python(program(item, item["canonical_solution"]), limits).passed, item["task_id"]
        assert not run_python(program(item, "    pass\n"), limits).passed, item["task_id"]


def test_example_config_uses_the_domain_set_as_task_metric(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(EXAMPLES / "domain-mc.yaml")
    spec = f"mc:{DATA / 'domain-mc-test.jsonl'}:style=cloze"
    assert [m.name for m in config.goal.task_metrics] == [spec]
    assert config.eval.benchmarks == [spec, "builtin:mc-mini"]
    assert config.data.train == str(DATA / "domain-train.jsonl")
    assert config.model.name_or_path == "smollm2-135m-instruct"


def test_training_file_is_chat_records(tiny_model_and_tokenizer):
    _, tokenizer = tiny_model_and_tokenizer
    config = load_config(EXAMPLES / "domain-mc.yaml")
    data = prepare_training_data(config.data, config.train, tokenizer)
    assert data.data_format == "messages"
    assert len(data.train) + len(data.validation) == 165
    assert pytest.approx(len(data.validation), abs=1) == 8
