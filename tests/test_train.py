"""The training loop on a tiny random model: loss falls, history is complete, fast path is exact."""

import csv
from pathlib import Path

import pytest
import torch

from goaltune.config import TrainConfig
from goaltune.data.encoding import collate, encode_dataset
from goaltune.errors import TrainingFailed
from goaltune.loss import token_loss_sum
from goaltune.models import parameter_counts
from goaltune.run_folder import LOSS_COLUMNS
from goaltune.train import plan_steps, train_adapter
from tests.conftest import build_tiny_model, lora, tiny_examples

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_supervised_only_logits_give_the_same_loss(tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    model = lora(build_tiny_model(tokenizer))
    encoded, _ = encode_dataset(tiny_examples(6), tokenizer, max_seq_length=64)
    batch = collate(encoded, tokenizer.pad_token_id)
    fast, n_fast = token_loss_sum(model, batch, supervised_only=True)
    full, n_full = token_loss_sum(model, batch, supervised_only=False)
    assert n_fast == n_full > 0
    assert torch.allclose(fast, full, rtol=1e-5)


def test_training_lowers_loss_and_logs_every_step(tmp_path: Path, tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    model = lora(build_tiny_model(tokenizer))
    assert parameter_counts(model)["trainable"] < parameter_counts(model)["total"]
    encoded, _ = encode_dataset(tiny_examples(), tokenizer, max_seq_length=64)
    config = TrainConfig(
        learning_rate=5e-3,
        max_steps=30,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        eval_steps=10,
        bf16=False,
    )
    result = train_adapter(
        model, tokenizer, encoded[:20], encoded[20:], config, tmp_path, show_progress=False
    )
    rows = list(csv.DictReader((tmp_path / "loss_history.csv").open()))
    assert tuple(rows[0]) == LOSS_COLUMNS
    assert [int(r["step"]) for r in rows] == list(range(1, 31))
    assert [int(r["step"]) for r in rows if r["val_loss"]] == [10, 20, 30]
    tokens = [int(r["tokens_seen"]) for r in rows]
    assert tokens == sorted(tokens) and tokens[0] > 0
    assert result.train_losses[-1] < result.train_losses[0]
    assert result.val_losses[-1][1] < result.val_losses[0][1]
    assert result.memory["peak_memory_mib"] > 0


def test_same_seed_same_losses(tmp_path: Path, tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    encoded, _ = encode_dataset(tiny_examples(), tokenizer, max_seq_length=64)
    config = TrainConfig(max_steps=5, per_device_train_batch_size=4, bf16=False)
    runs = []
    for index in range(2):
        folder = tmp_path / str(index)
        folder.mkdir()
        runs.append(
            train_adapter(
                lora(build_tiny_model(tokenizer)),
                tokenizer,
                encoded,
                [],
                config,
                folder,
                show_progress=False,
            ).train_losses
        )
    assert runs[0] == runs[1]


def test_non_finite_loss_stops_training(tmp_path: Path, tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    model = lora(build_tiny_model(tokenizer))
    with torch.no_grad():
        model.get_base_model().model.norm.weight.fill_(float("nan"))
    encoded, _ = encode_dataset(tiny_examples(8), tokenizer, max_seq_length=64)
    config = TrainConfig(max_steps=3, per_device_train_batch_size=4, bf16=False)
    with pytest.raises(TrainingFailed, match="non-finite training loss .* at step 1"):
        train_adapter(model, tokenizer, encoded, [], config, tmp_path, show_progress=False)


def test_plan_steps_accounts_for_accumulation_and_epochs() -> None:
    config = TrainConfig(
        per_device_train_batch_size=4, gradient_accumulation_steps=2, num_train_epochs=3
    )
    assert plan_steps(33, config) == (5, 15)
    assert plan_steps(33, TrainConfig(max_steps=7)) == (5, 7)
