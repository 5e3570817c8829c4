"""`goaltune eval --num-processes 2`: two CPU processes (gloo) score the task items and two
multiple-choice benchmarks item for item as one process does, and only the main one writes."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from goaltune.cli import app
from tests.conftest import goaltune

QUESTIONS = [
    {"question": f"What is {i} plus one?", "choices": [str(i), str(i + 1), str(i + 2)], "answer": 1}
    for i in range(7)
]


def eval_args(tmp_path: Path, model_dir: Path, out: Path) -> list[str]:
    """Five task items and five items of each benchmark, in batches of two (three batches)."""
    tests = [
        {"id": f"t{i}", "prompt": f"Question: {i}", "completion": f"Answer: {i}"} for i in range(7)
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tests))
    (tmp_path / "sums.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return [
        "eval",
        "--model",
        str(model_dir),
        "--task",
        str(tmp_path / "test.jsonl"),
        "--metrics",
        "exact_match,contains",
        "--benchmarks",
        f"mc:{tmp_path / 'sums.jsonl'}:style=cloze,builtin:mc-mini",
        "--limit",
        "5",
        "--batch-size",
        "2",
        "--max-new-tokens",
        "6",
        "--out",
        str(out),
        "--quiet",
    ]


def scored(path: Path) -> dict[str, object]:
    """Every per-item result and summary of an eval file (not its timings)."""
    result = json.loads(path.read_text())
    return {
        "task": {key: result["task"][key] for key in ("items", "metrics")},
        "benchmarks": {
            spec: {key: bench[key] for key in ("items", "metrics", "primary_metric")}
            for spec, bench in result["benchmarks"].items()
        },
    }


@pytest.mark.integration  # starts two worker processes (about a minute on a busy 2-core machine)
def test_two_processes_score_every_item_as_one_process(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    one = tmp_path / "one.json"
    single = CliRunner().invoke(app, eval_args(tmp_path, tiny_model_dir, one))
    assert single.exit_code == 0, single.output

    two = tmp_path / "two.json"
    process = goaltune(*eval_args(tmp_path, tiny_model_dir, two), "--num-processes", "2")
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output

    expected, got = scored(one), scored(two)
    assert [item["id"] for item in got["task"]["items"]] == ["t0", "t1", "t2", "t3", "t4"]
    assert {spec: len(b["items"]) for spec, b in got["benchmarks"].items()} == dict.fromkeys(
        expected["benchmarks"], 5
    )
    assert got == expected
    assert output.count("evaluation (score") == 1  # only the main process prints the table
