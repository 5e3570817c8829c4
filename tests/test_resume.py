"""Checkpoints and resume: a run killed with SIGKILL and resumed equals an uninterrupted run."""

import csv
import random
import signal
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.conftest import goaltune, only_run, write_config

pytestmark = pytest.mark.integration  # each test trains in goaltune subprocesses

STEPS = 120


def train_config(tmp_path: Path, model_dir: Path, name: str) -> Path:
    path = write_config(tmp_path, model_dir)
    config = yaml.safe_load(path.read_text())
    config["name"] = name
    config["train"].update(max_steps=STEPS, save_steps=7, eval_steps=20, learning_rate=1e-3)
    config["lora"]["lora_dropout"] = 0.1  # exercises the RNG state on resume
    out = tmp_path / f"{name}.yaml"
    out.write_text(yaml.safe_dump(config))
    return out


def history(run_dir: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader((run_dir / "loss_history.csv").open()))
    return [{k: v for k, v in row.items() if k != "elapsed_s"} for row in rows]


def test_sigkill_then_resume_matches_uninterrupted(tmp_path: Path, tiny_model_dir: Path) -> None:
    reference = goaltune("train", str(train_config(tmp_path, tiny_model_dir, "reference")), "-q")
    assert reference.wait(timeout=300) == 0, reference.stdout.read()
    reference_dir = only_run(tmp_path / "runs")

    killed_root = tmp_path / "killed"
    config = yaml.safe_load(train_config(tmp_path, tiny_model_dir, "killed").read_text())
    config["output_dir"] = str(killed_root)
    (tmp_path / "killed.yaml").write_text(yaml.safe_dump(config))
    kill_after = random.Random(STEPS).randint(10, STEPS - 30)  # seeded: the same step every run
    process = goaltune("train", str(tmp_path / "killed.yaml"), "-q")
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        runs = list(killed_root.glob("killed-*/loss_history.csv")) if killed_root.exists() else []
        if runs and sum(1 for _ in runs[0].open()) > kill_after:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, f"training ended before the kill at {kill_after}"
    killed_dir = only_run(killed_root)
    assert not (killed_dir / "adapter").exists()

    resumed = goaltune("train", "--resume", str(killed_dir), "-q")
    assert resumed.wait(timeout=300) == 0, resumed.stdout.read()
    assert history(killed_dir) == history(reference_dir)
    expected = load_file(str(reference_dir / "adapter" / "adapter_model.safetensors"))
    got = load_file(str(killed_dir / "adapter" / "adapter_model.safetensors"))
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-6)
    assert yaml.safe_load((killed_dir / "status.json").read_text())["status"] == "finished"


def test_sigterm_checkpoints_and_marks_interrupted(tmp_path: Path, tiny_model_dir: Path) -> None:
    process = goaltune("train", str(train_config(tmp_path, tiny_model_dir, "stopped")), "-q")
    deadline = time.time() + 300
    while time.time() < deadline:
        runs = (
            list((tmp_path / "runs").glob("stopped-*/loss_history.csv"))
            if (tmp_path / "runs").exists()
            else []
        )
        if runs and sum(1 for _ in runs[0].open()) > 10:
            process.send_signal(signal.SIGTERM)
            break
        time.sleep(0.005)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    run_dir = only_run(tmp_path / "runs")
    status = yaml.safe_load((run_dir / "status.json").read_text())
    assert status["status"] == "interrupted" and "--resume" in status["resume"]
    assert "resume with: goaltune train --resume" in output
    assert any((run_dir / "checkpoints").glob("step-*/state.json"))
