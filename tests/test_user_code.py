"""code:PATH: opt-in, HumanEval programs, pass@1; hostile programs fail and the run goes on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks import load_benchmark, run_benchmarks
from goaltune.evaluate.benchmarks.user_code import STOP, program
from goaltune.evaluate.sandbox import ALLOW_ENV, code_execution_allowed

PROMPT = 'def double(n: int) -> int:\n    """Twice n."""\n'
TEST = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(-3) == -6\n"
ESCAPE = Path("/tmp") / f"goaltune-code-escape-{os.getpid()}"
SOLUTIONS = {  # task id: the "completion" run against the tests
    "correct": "    return 2 * n\n",
    "wrong": "    return n + 2\n",
    "infinite-loop": "    while True:\n        pass\n",
    "fork-bomb": "    import os\n    while True:\n        os.fork()\n",
    "exit-before-tests": "    import sys\n    sys.exit(0)\n",
    "exit-at-import": "    return 2 * n\nimport sys\nsys.exit(0)\n",
    "10-gb": "    block = bytearray(10 * 1024 ** 3)\n    return 2 * n\n",
    "write-outside": f"    open({str(ESCAPE)!r}, 'w').write('x')\n    return 2 * n\n",
}


def _write(path: Path, solutions: dict[str, str]) -> Path:
    records = [
        {
            "task_id": task,
            "prompt": PROMPT,
            "canonical_solution": solution,
            "test": TEST,
            "entry_point": "double",
        }
        for task, solution in solutions.items()
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_refused_without_the_opt_in(tmp_path, monkeypatch):
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    path = _write(tmp_path / "code.jsonl", {"correct": SOLUTIONS["correct"]})
    with pytest.raises(
        BenchmarkError,
        match=f"off by default; to allow it, pass --allow-code-execution .* or set {ALLOW_ENV}=1",
    ):
        load_benchmark(f"code:{path}")


def test_hostile_programs_fail_and_the_evaluation_goes_on(
    tmp_path, monkeypatch, tiny_model_and_tokenizer
):
    monkeypatch.setenv(ALLOW_ENV, "1")
    model, tokenizer = tiny_model_and_tokenizer
    spec = f"code:{_write(tmp_path / 'code.jsonl', SOLUTIONS)}:reference=true,timeout=2"
    result = run_benchmarks(model, tokenizer, [spec], resamples=200, show_progress=False)[spec]
    status = {r["id"]: (r["status"], r["metrics"]["pass@1"]) for r in result["items"]}
    assert status == {
        "correct": ("passed", 1.0),
        "wrong": ("failed", 0.0),
        "infinite-loop": ("timeout", 0.0),
        "fork-bomb": ("failed", 0.0),
        "exit-before-tests": ("failed", 0.0),
        "exit-at-import": ("failed", 0.0),
        "10-gb": ("failed", 0.0),
        "write-outside": ("failed", 0.0),
    }
    assert result["primary_metric"] == "pass@1"
    assert result["metrics"]["pass@1"]["score"] == pytest.approx(1 / len(SOLUTIONS))
    records = {r["id"]: r for r in result["items"]}
    assert "MemoryError" in records["10-gb"]["error"]
    assert records["exit-before-tests"]["reason"] == "the program exited before its last line ran"
    assert not ESCAPE.exists()
    assert result["settings"]["sandbox"]["limits"].startswith("cpu 3 s")


def test_completions_are_generated_and_cut_at_stop_sequences(
    tmp_path, monkeypatch, tiny_model_and_tokenizer, one_torch_thread
):
    monkeypatch.setenv(ALLOW_ENV, "1")
    model, tokenizer = tiny_model_and_tokenizer
    path = _write(tmp_path / "code.jsonl", {"a": SOLUTIONS["correct"], "b": SOLUTIONS["wrong"]})
    spec = f"code:{path}:max_gen_toks=6,timeout=2"
    result = run_benchmarks(model, tokenizer, [spec], resamples=200, show_progress=False)[spec]
    for record in result["items"]:
        assert not any(stop in record["output"] for stop in STOP)
        assert record["status"] in {"passed", "failed", "timeout"}
        assert record["metrics"]["pass@1"] == float(record["status"] == "passed")


def test_program_layout():
    item = {"prompt": PROMPT, "test": TEST, "entry_point": "double"}
    expected = f"{PROMPT}    return 2 * n\n\n{TEST}\n\ncheck(double)\n"
    assert program(item, "    return 2 * n") == expected


@pytest.mark.parametrize(
    "record, message",
    [
        ({"prompt": "p", "test": "t", "entry_point": "f"}, "line 1: field 'task_id' is missing"),
        (
            {"task_id": "x", "prompt": "p", "test": "t", "entry_point": "not a name"},
            "line 1: field 'entry_point': 'not a name' is not a Python name",
        ),
        ({"task_id": "x", "prompt": "p", "entry_point": "f"}, "line 1: field 'test' is missing"),
    ],
)
def test_bad_records(tmp_path, monkeypatch, record, message):
    monkeypatch.setenv(ALLOW_ENV, "1")
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(BenchmarkError, match=f"bad.jsonl, {message}"):
        load_benchmark(f"code:{path}")


def test_reference_mode_needs_solutions(tmp_path, monkeypatch):
    monkeypatch.setenv(ALLOW_ENV, "1")
    path = tmp_path / "plain.jsonl"
    path.write_text(
        json.dumps({"task_id": "x", "prompt": "p", "test": "t", "entry_point": "f"}) + "\n"
    )
    assert load_benchmark(f"code:{path}").items[0]["canonical_solution"] is None
    with pytest.raises(BenchmarkError, match="line 1: field 'canonical_solution' is missing"):
        load_benchmark(f"code:{path}:reference=true")


def test_cli_flag_opts_in(monkeypatch):
    import goaltune.pipeline
    from goaltune.cli import app

    monkeypatch.delenv(ALLOW_ENV, raising=False)
    seen = {}

    def fake_eval(**kwargs):
        seen["allowed"] = code_execution_allowed()
        return {"model": "m", "adapter": None, "benchmarks": {}}

    monkeypatch.setattr(goaltune.pipeline, "evaluate_standalone", fake_eval)
    monkeypatch.setattr("goaltune.summary.print_eval_table", lambda *a: None)
    outcome = CliRunner().invoke(
        app, ["eval", "--benchmarks", "code:x.jsonl", "--allow-code-execution"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert seen == {"allowed": True}
    monkeypatch.delenv(ALLOW_ENV)
