"""Domain benchmarks as task metrics and guards: config paths, evaluation list and verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from goaltune.config import anchor_spec, config_from_dict, dump_config, load_config
from goaltune.evaluate.benchmarks import run_benchmarks
from goaltune.verdict import build_verdict
from tests.conftest import build_tiny_model

ITEMS = [
    {
        "question": "Which port does the Kestrel relay listen on?",
        "choices": ["7311", "80", "22"],
        "answer": "7311",
        "subject": "relay",
    },
    {
        "question": "Which colour marks a Kestrel relay that is offline?",
        "choices": ["green", "amber", "violet"],
        "answer": "C",
        "subject": "relay",
    },
    {
        "question": "How often does the Kestrel archive rotate?",
        "choices": ["hourly", "weekly"],
        "answer": 1,
        "subject": "archive",
    },
]


def _project(root: Path) -> Path:
    """A config in root/project whose domain test set lies next to it under data/."""
    (root / "project" / "data").mkdir(parents=True)
    (root / "project" / "data" / "kestrel-mc.jsonl").write_text(
        "".join(json.dumps(item) + "\n" for item in ITEMS)
    )
    config = {
        "name": "kestrel",
        "goal": {
            "purpose": "domain",
            "task_metrics": [{"name": "mc:data/kestrel-mc.jsonl:style=cloze", "target": 0.6}],
            "guard_benchmarks": ["builtin:mc-mini"],
        },
    }
    path = root / "project" / "kestrel.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_file_specs_resolve_next_to_the_config_and_are_evaluated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the data path does not exist relative to the working folder
    config = load_config(_project(tmp_path).relative_to(tmp_path))
    spec = "mc:project/data/kestrel-mc.jsonl:style=cloze"
    assert config.goal.task_metrics[0].name == spec
    assert config.eval.benchmarks == [spec, "builtin:mc-mini"]
    # the run folder keeps the resolved names, and reloading it changes nothing
    saved = tmp_path / "saved.yaml"
    saved.write_text(dump_config(config))
    assert load_config(saved).eval.benchmarks == config.eval.benchmarks


def test_anchor_spec_leaves_other_specs_alone(tmp_path):
    (tmp_path / "qa.jsonl").write_text("{}\n")
    assert (
        anchor_spec("qa:qa.jsonl:extract=a:(b)", tmp_path)
        == f"qa:{tmp_path / 'qa.jsonl'}:extract=a:(b)"
    )
    assert anchor_spec("mmlu:anatomy", tmp_path) == "mmlu:anatomy"
    assert anchor_spec("qa:missing.jsonl", tmp_path) == "qa:missing.jsonl"


def test_listed_benchmarks_are_not_repeated():
    config = config_from_dict(
        {
            "eval": {"benchmarks": ["builtin:mc-mini", "mc:x.jsonl"]},
            "goal": {
                "task_metrics": ["mc:x.jsonl", "json_valid"],
                "guard_benchmarks": ["builtin:mc-mini"],
            },
        }
    )
    assert config.eval.benchmarks == ["builtin:mc-mini", "mc:x.jsonl"]


def test_the_verdict_uses_the_domain_score_as_task_metric(
    tmp_path, monkeypatch, tiny_model_and_tokenizer, one_torch_thread
):
    monkeypatch.chdir(tmp_path)
    config = load_config(_project(tmp_path))
    base, tokenizer = tiny_model_and_tokenizer
    tuned = build_tiny_model(tokenizer, seed=3)
    sides = [
        {
            "benchmarks": run_benchmarks(
                model,
                tokenizer,
                config.eval.benchmarks,
                limit=5,
                resamples=200,
                show_progress=False,
            )
        }
        for model in (base, tuned)
    ]
    verdict = build_verdict(config.goal, *sides, resamples=200)
    task, guard = verdict.deltas
    spec = config.goal.task_metrics[0].name
    assert (task.name, task.role, task.target, task.n) == (spec, "task", 0.6, 3)
    for side, value in zip(sides, (task.before, task.after)):
        assert value == pytest.approx(side["benchmarks"][spec]["metrics"]["acc"]["score"])
    assert (guard.name, guard.role, guard.n) == ("builtin:mc-mini", "guard", 5)
