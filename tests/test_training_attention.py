"""train.attention: which attention the training steps use, that evaluations keep the model's,
and that eager and SDPA attention train to the same losses."""

from pathlib import Path
from typing import Any

import pytest
import torch

from goaltune.config import TrainConfig
from goaltune.data.encoding import encode_dataset
from goaltune.hardware import (
    EAGER_ATTENTION_MAX_TOKENS,
    attention_for_training,
    training_attention,
)
from goaltune.loss import token_loss_sum
from goaltune.train import train_adapter
from tests.conftest import build_tiny_model, lora, tiny_examples

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_auto_picks_eager_only_for_short_bf16_training_on_a_cpu() -> None:
    assert training_attention("auto", CPU, True, 256) == "eager"
    assert training_attention("auto", CPU, True, EAGER_ATTENTION_MAX_TOKENS + 1) == "model"
    assert training_attention("auto", CPU, False, 256) == "model"
    assert training_attention("auto", CUDA, True, 256) == "model"
    assert training_attention("sdpa", CPU, True, 256) == "sdpa"


def _attention_seen(model: Any) -> list[str]:
    """The attention implementation each decoder forward ran with, recorded by a hook."""
    seen: list[str] = []
    layer = model.get_base_model().model.layers[0]
    layer.register_forward_pre_hook(
        lambda module, args: seen.append(module.self_attn.config._attn_implementation)
    )
    return seen


def test_training_forwards_use_it_and_evaluation_forwards_do_not(
    tiny_model_and_tokenizer,
) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    model = lora(build_tiny_model(tokenizer))
    own = model.get_base_model().config._attn_implementation
    assert own == "sdpa"
    seen = _attention_seen(model)
    ids = torch.tensor([[5, 6, 7, 8]])
    batch = {"input_ids": ids, "labels": ids}
    with attention_for_training(model, "eager"):
        model.train()
        model(input_ids=ids)
        token_loss_sum(model, batch, supervised_only=True)  # the decoder called directly
        model.eval()
        model(input_ids=ids)
        token_loss_sum(model, batch, supervised_only=True)
        model.train()
        model(input_ids=ids)
    model(input_ids=ids)
    assert seen == ["eager", "eager", own, own, "eager", own]
    assert model.get_base_model().config._attn_implementation == own


def _losses(tokenizer: Any, folder: Path, attention: str) -> tuple[list[float], Any]:
    encoded, _ = encode_dataset(tiny_examples(16), tokenizer, max_seq_length=64)
    config = TrainConfig(
        max_steps=4, per_device_train_batch_size=4, learning_rate=1e-2, attention=attention
    )
    model = lora(build_tiny_model(tokenizer))
    folder.mkdir()
    result = train_adapter(
        model, tokenizer, encoded[:12], encoded[12:], config, folder, show_progress=False
    )
    return result.train_losses, result


def test_eager_and_sdpa_train_to_the_same_losses(tmp_path: Path, tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    sdpa, sdpa_result = _losses(tokenizer, tmp_path / "sdpa", "sdpa")
    eager, eager_result = _losses(tokenizer, tmp_path / "eager", "eager")
    assert (sdpa_result.attention, eager_result.attention) == ("sdpa", "eager")
    # fp32 on right-padded batches: the two kernels differ only in rounding
    torch.testing.assert_close(torch.tensor(eager), torch.tensor(sdpa), rtol=1e-4, atol=0.0)
