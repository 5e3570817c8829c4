"""GPU options checked on CPU: QLoRA's clear errors, gradient checkpointing, the Accelerate example
configs, and the device check script (fails fast without CUDA; its overrides and report work)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from goaltune.cli import app
from goaltune.config import TrainConfig, load_config
from goaltune.errors import ModelError
from tests.conftest import write_config

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the message of a machine without CUDA")
def test_qlora_without_cuda_is_one_clear_line_and_no_run_folder(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = write_config(tmp_path, tiny_model_dir)
    result = CliRunner().invoke(app, ["train", str(config), "--set", "model.load_in_4bit=true"])
    assert result.exit_code == 2, result.output
    assert "model.load_in_4bit (QLoRA) needs a CUDA GPU" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "runs").exists()


def test_qlora_without_bitsandbytes_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from goaltune import models

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(models.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        models.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "bitsandbytes" else real_find_spec(name, *a),
    )
    with pytest.raises(
        ModelError,
        match=r"needs bitsandbytes: pip install 'goaltune\[gpu\]'",
    ):
        models.require_4bit()


def test_gradient_checkpointing_changes_memory_not_losses(
    tmp_path: Path, tiny_model_and_tokenizer
) -> None:
    from goaltune.data.encoding import encode_dataset
    from goaltune.train import train_adapter
    from tests.conftest import build_tiny_model, lora, tiny_examples

    _, tokenizer = tiny_model_and_tokenizer
    encoded, _ = encode_dataset(tiny_examples(), tokenizer, max_seq_length=64)
    losses, models = [], []
    for checkpointing in (False, True):
        config = TrainConfig(
            max_steps=4,
            per_device_train_batch_size=4,
            bf16=False,
            learning_rate=5e-3,
            gradient_checkpointing=checkpointing,
        )
        folder = tmp_path / str(checkpointing)
        folder.mkdir()
        models.append(lora(build_tiny_model(tokenizer)))
        result = train_adapter(
            models[-1], tokenizer, encoded, [], config, folder, show_progress=False
        )
        losses.append(result.train_losses)
    assert losses[1] == pytest.approx(losses[0], abs=1e-6)
    flag = (
        "is_activation_checkpointing"
        if hasattr(models[0].get_base_model(), "is_activation_checkpointing")
        else "is_gradient_checkpointing"
    )
    assert [getattr(m.get_base_model(), flag) for m in models] == [False, True]


@pytest.mark.parametrize(
    "name, kind", [("multi-gpu", "MULTI_GPU"), ("fsdp", "FSDP"), ("deepspeed-zero2", "DEEPSPEED")]
)
def test_accelerate_example_configs_load(name: str, kind: str) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / "examples" / "accelerate" / f"{name}.yaml"))
    assert config.distributed_type.name == kind and config.num_machines == 1


def test_gpu_check_fails_fast_without_a_gpu(tmp_path: Path) -> None:
    fake = tmp_path / "nvidia-smi"  # present, but lists no GPU (as on a machine without a driver)
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:/usr/bin:/bin"}
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert "no CUDA device" in done.stderr and "make install" not in done.stdout
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0


def test_gpu_check_overrides_are_valid_config() -> None:
    overrides = re.findall(r"--set (\S+)=(\S+)", SCRIPT.read_text())
    assert ("model.load_in_4bit", "true") in overrides
    config = load_config(
        ROOT / "benchmarks" / "gpu-check.yaml",
        {key: yaml.safe_load(value) for key, value in overrides if "$" not in value},
    )
    assert config.model.load_in_4bit and config.train.gradient_checkpointing
    assert config.model.name_or_path == "smollm2-135m-instruct"


def fake_run(folder: Path, kind: str, processes: int) -> None:
    (folder / "eval").mkdir(parents=True)
    memory = {
        "kind": kind,
        "peak_memory_mib": 900.0,
        "per_process": [{"rank": r, "peak_memory_mib": 900.0 - r} for r in range(processes)],
    }
    metrics = {
        "processes": processes,
        "bf16_autocast": True,
        "memory": memory,
        "loss": {"tokens_per_second": 12345.6},
    }
    (folder / "training_metrics.json").write_text(json.dumps(metrics))
    (folder / "verdict.json").write_text(json.dumps({"verdict": "SUCCESS"}))
    for side, score in (("before", 0.03), ("after", 0.97)):
        task = {"task": {"metrics": {"json_valid": {"score": score}}}}
        (folder / "eval" / f"{side}.json").write_text(json.dumps(task))


def test_gpu_check_report_prints_throughput_vram_and_verdict(tmp_path: Path) -> None:
    fake_run(tmp_path / "gpu-check-bf16-20260101T000000Z", "cuda_max_allocated", 1)
    fake_run(tmp_path / "gpu-check-ddp2-20260101T000000Z", "cuda_max_allocated", 2)
    report = [sys.executable, str(ROOT / "benchmarks" / "gpu_check_report.py"), str(tmp_path)]
    done = subprocess.run([*report, "bf16", "ddp2"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].split()[:4] == ["bf16", "1", "True", "12346"]
    assert "900 / 899" in lines[2] and "3% ->  97%" in lines[2] and lines[2].endswith("SUCCESS")
    fake_run(tmp_path / "gpu-check-cpu-20260101T000000Z", "process_peak_rss", 1)
    done = subprocess.run([*report, "cpu"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "did not train on a CUDA device" in done.stderr
