"""data.mix: general data blended into training in a fixed, seeded ratio, and recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from typer.testing import CliRunner

from goaltune.cli import app
from goaltune.config import DataConfig, TrainConfig, load_config
from goaltune.data import prepare_training_data
from goaltune.data.mixing import mix_counts
from goaltune.errors import ConfigError
from tests.conftest import write_config


def write_general(folder: Path, count: int) -> Path:
    rows = [
        {"instruction": f"Tell me about topic {i}.", "output": f"Topic {i} is nice."}
        for i in range(count)
    ]
    path = folder / "general.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def prepare(tmp_path: Path, tokenizer: Any, general: int, weight: float, seed: int = 42) -> Any:
    write_config(tmp_path, tmp_path)  # writes train.jsonl (24 records) and test.jsonl
    data = DataConfig(
        train=str(tmp_path / "train.jsonl"),
        validation_split=0.25,
        mix=[{"path": str(write_general(tmp_path, general)), "weight": weight}],
    )
    return prepare_training_data(data, TrainConfig(seed=seed), tokenizer)


def general_texts(prepared: Any, tokenizer: Any) -> list[str]:
    texts = [tokenizer.decode(example.input_ids) for example in prepared.train]
    return [text for text in texts if "Tell me about" in text]


def test_mix_counts_give_each_source_its_share() -> None:
    assert mix_counts(18, [0.25]) == [6]
    assert mix_counts(30, [0.2, 0.1]) == [9, 4]  # of ~43 in all: 20% and 10%


def test_mix_blends_in_the_ratio_and_records_it(
    tmp_path: Path, tiny_model_and_tokenizer: Any
) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    prepared = prepare(tmp_path, tokenizer, general=10, weight=0.25)
    assert len(prepared.train) == 24 and len(general_texts(prepared, tokenizer)) == 6
    assert len(prepared.validation) == 6  # validation stays from the main data only
    assert all(
        "Tell me about" not in e.messages[0]["content"] for e in prepared.validation_examples
    )
    main, general = prepared.stats["mix"]["sources"]
    assert main == {"source": str(tmp_path / "train.jsonl"), "weight": 0.75, "examples": 18}
    assert general == {
        "source": str(tmp_path / "general.jsonl"),
        "weight": 0.25,
        "examples": 6,
        "available": 10,
        "with_replacement": False,
        "format": "alpaca",
    }
    assert prepared.stats["mix"]["total_examples"] == 24
    again = prepare(tmp_path, tokenizer, general=10, weight=0.25)
    assert general_texts(again, tokenizer) == general_texts(prepared, tokenizer)
    assert again.fingerprint == prepared.fingerprint
    reseeded = prepare(tmp_path, tokenizer, general=10, weight=0.25, seed=7)
    assert sorted(general_texts(reseeded, tokenizer)) != sorted(general_texts(prepared, tokenizer))


def test_a_small_source_is_sampled_with_replacement(
    tmp_path: Path, tiny_model_and_tokenizer: Any
) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    prepared = prepare(tmp_path, tokenizer, general=3, weight=0.5)
    assert len(general_texts(prepared, tokenizer)) == 18
    assert prepared.stats["mix"]["sources"][1]["with_replacement"] is True


def test_mix_config_is_validated_and_anchored(tmp_path: Path) -> None:
    write_general(tmp_path, 4)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"data": {"mix": [{"path": "general.jsonl", "weight": 0.2}]}}))
    assert load_config(path).data.mix[0].path == str(tmp_path / "general.jsonl")
    path.write_text(
        yaml.safe_dump(
            {"data": {"mix": [{"path": "a", "weight": 0.6}, {"path": "b", "weight": 0.4}]}}
        )
    )
    with pytest.raises(ConfigError, match="sum to less than 1"):
        load_config(path)


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread beats two contended cores
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_training_metrics_record_the_mix(tmp_path: Path, tiny_model_dir: Path) -> None:
    general = write_general(tmp_path, 10)
    config = write_config(
        tmp_path,
        tiny_model_dir,
        train={"max_steps": 2, "bf16": False},
        data={
            "train": str(tmp_path / "train.jsonl"),
            "validation_split": 0.25,
            "mix": [{"path": str(general), "weight": 0.25}],
        },
    )
    result = CliRunner().invoke(app, ["train", str(config), "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    data = json.loads((run_dir / "training_metrics.json").read_text())["data"]
    assert data["train_examples"] == 24
    assert [(s["source"], s["weight"], s["examples"]) for s in data["mix"]["sources"]] == [
        (str(tmp_path / "train.jsonl"), 0.75, 18),
        (str(general), 0.25, 6),
    ]
