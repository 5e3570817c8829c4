"""`goaltune run` end to end on a tiny random model saved as a local folder."""

import csv
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from goaltune.cli import app
from goaltune.run_folder import LOSS_COLUMNS
from tests.conftest import write_config

pytestmark = pytest.mark.integration  # `goaltune run` end to end, report included

TRAINING_METRIC_KEYS = {
    "model",
    "hyperparameters",
    "data",
    "seed",
    "device",
    "memory",
    "train_time_s",
    "wall_time_s",
    "loss",
    "versions",
    "tokens_seen",
    "steps",
}


def test_run_writes_the_whole_run_folder(tmp_path: Path, tiny_model_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", str(write_config(tmp_path, tiny_model_dir)), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("tiny-")
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["lora"]["r"] == 4 and saved["train"]["warmup_ratio"] == 0.05
    rows = list(csv.DictReader((run_dir / "loss_history.csv").open()))
    assert tuple(rows[0]) == LOSS_COLUMNS and len(rows) == 6
    metrics = json.loads((run_dir / "training_metrics.json").read_text())
    assert TRAINING_METRIC_KEYS <= set(metrics)
    assert metrics["data"]["train_examples"] == 18 and metrics["versions"]["torch"]
    assert metrics["model"]["parameters"]["trainable"] > 0
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    for side in ("before", "after"):
        evaluation = json.loads((run_dir / "eval" / f"{side}.json").read_text())
        assert evaluation["task"]["metrics"]["exact_match"]["n"] == 6
        assert {"prompt", "output", "metrics"} <= set(evaluation["task"]["items"][0])
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["verdict"] in {"SUCCESS", "INVESTIGATE", "NEEDS TUNING", "PROBLEM"}
    assert (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file()
    assert "verdict:" in result.output


def test_adapter_loads_with_plain_peft(tmp_path: Path, tiny_model_dir: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = CliRunner().invoke(
        app, ["train", str(write_config(tmp_path, tiny_model_dir)), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert not (run_dir / "eval").exists()
    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir), run_dir / "adapter"
    )
    assert any(
        "lora_B" in name and float(p.abs().max()) > 0 for name, p in model.named_parameters()
    )


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, tiny_model_dir: Path) -> None:
    path = write_config(tmp_path, tiny_model_dir, lorra={"r": 4})
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "unknown key 'lorra'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_missing_model_path_is_a_clear_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    path = write_config(tmp_path, tmp_path / "no-such-model")
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "runs").exists()


def test_non_finite_loss_gives_failed_verdict_and_report(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    path = write_config(tmp_path, tiny_model_dir)
    config = yaml.safe_load(path.read_text())
    config["train"]["learning_rate"] = 1e30  # diverges to inf/nan within a few steps
    config["train"]["max_steps"] = 20
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(path), "--quiet"])
    assert result.exit_code == 1 and "non-finite training loss" in result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "non-finite" in status["reason"]
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["verdict"] == "FAILED" and "non-finite" in " ".join(verdict["reasons"])
    assert (run_dir / "report.html").is_file()
