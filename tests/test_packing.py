"""train.packing: examples packed into fewer rows give the unpacked batch's loss and gradients."""

from pathlib import Path
from typing import Any

import pytest
import torch

from goaltune.config import TrainConfig
from goaltune.data.encoding import Encoded, collate, encode_dataset, pack_rows
from goaltune.data.formats import Example
from goaltune.errors import ConfigError
from goaltune.loss import token_loss_sum
from goaltune.train import train_adapter
from tests.conftest import build_tiny_model, lora

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def varied_examples(n: int) -> list[Example]:
    """Chat examples from 1 to 12 words of question: lengths that leave room to pack."""
    words = "the quick brown fox jumps over the lazy dog near the river".split()
    return [
        Example(
            messages=[
                {"role": "user", "content": " ".join(words[: 1 + i % 12])},
                {"role": "assistant", "content": f"Answer: {i}"},
            ]
        )
        for i in range(n)
    ]


def encoded(tokenizer: Any, n: int = 12, train_on: str = "completions") -> list[Encoded]:
    items, _ = encode_dataset(varied_examples(n), tokenizer, max_seq_length=64, train_on=train_on)
    return items


def loss_and_grads(model: Any, batch: dict[str, torch.Tensor], supervised_only: bool) -> Any:
    model.zero_grad(set_to_none=True)
    loss, count = token_loss_sum(model, batch, supervised_only)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return loss.detach(), count, grads


def trained_lora(tokenizer: Any) -> Any:
    """The tiny model with LoRA B matrices made non-zero, so the adapter takes part."""
    model = lora(build_tiny_model(tokenizer)).train()
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.1)
    return model


def test_pack_rows_places_every_item_once_within_the_width(tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    items = encoded(tokenizer)
    rows = pack_rows(items)
    width = max(len(item.input_ids) for item in items)
    assert sorted(i for row in rows for i in row) == list(range(len(items)))
    assert all(sum(len(items[i].input_ids) for i in row) <= width for row in rows)
    assert len(rows) < len(items)  # the lengths vary 2x: some rows hold several examples


@pytest.mark.parametrize("train_on", ["completions", "all"])
@pytest.mark.parametrize("supervised_only", [True, False])
def test_packed_batch_has_the_unpacked_loss_and_gradients(
    tiny_model_and_tokenizer, train_on: str, supervised_only: bool
) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    model = trained_lora(tokenizer)
    items = encoded(tokenizer, train_on=train_on)
    padded = collate(items, tokenizer.pad_token_id)
    packed = collate(items, tokenizer.pad_token_id, packed=True)
    assert "attention_mask" not in packed and packed["input_ids"].shape[0] < len(items)
    assert packed["input_ids"].numel() < padded["input_ids"].numel()
    loss, count, grads = loss_and_grads(model, padded, supervised_only)
    packed_loss, packed_count, packed_grads = loss_and_grads(model, packed, supervised_only)
    assert packed_count == count
    assert abs(float(packed_loss) / float(loss) - 1) < 1e-4
    for name, grad in grads.items():
        assert torch.allclose(packed_grads[name], grad, rtol=1e-3, atol=1e-6), name


def test_without_restarting_positions_examples_would_see_each_other(
    tiny_model_and_tokenizer,
) -> None:
    """The check above can fail: packed rows with running positions attend across examples."""
    _, tokenizer = tiny_model_and_tokenizer
    model = trained_lora(tokenizer)
    items = encoded(tokenizer)
    padded = collate(items, tokenizer.pad_token_id)
    packed = collate(items, tokenizer.pad_token_id, packed=True)
    running = {**packed, "position_ids": torch.arange(packed["input_ids"].shape[1])[None]}
    _, _, grads = loss_and_grads(model, padded, True)
    _, _, mixed = loss_and_grads(model, running, True)
    # a random tiny model's loss barely depends on context; its gradients do (13% observed)
    worst = max(float((mixed[n] - g).abs().max() / g.abs().max()) for n, g in grads.items())
    assert worst > 1e-2


def test_packed_training_follows_the_unpacked_losses(
    tmp_path: Path, tiny_model_and_tokenizer
) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    items = encoded(tokenizer, 24)
    results = []
    for packing in (False, True):
        config = TrainConfig(
            max_steps=4,
            per_device_train_batch_size=6,
            learning_rate=1e-2,
            bf16=False,
            length_bucketing=False,
            packing=packing,
        )
        folder = tmp_path / str(packing)
        folder.mkdir()
        model = lora(build_tiny_model(tokenizer))
        results.append(
            train_adapter(
                model, tokenizer, items[:20], items[20:], config, folder, show_progress=False
            )
        )
    unpacked, packed = results
    assert packed.input_tokens == unpacked.input_tokens > 0
    assert packed.tokens_seen == unpacked.tokens_seen
    for ours, theirs in zip(packed.train_losses, unpacked.train_losses, strict=True):
        assert abs(ours / theirs - 1) < 1e-4
    assert abs(packed.val_losses[-1][1] / unpacked.val_losses[-1][1] - 1) < 1e-4


def test_packing_refuses_attention_that_cannot_keep_examples_apart(
    tmp_path: Path, tiny_model_and_tokenizer
) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    model = lora(build_tiny_model(tokenizer))
    model.get_base_model().config._attn_implementation = "flash_attention_2"
    config = TrainConfig(max_steps=1, bf16=False, packing=True)
    with pytest.raises(ConfigError, match="train.packing: .*flash_attention_2"):
        train_adapter(
            model, tokenizer, encoded(tokenizer), [], config, tmp_path, show_progress=False
        )
