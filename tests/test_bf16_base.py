"""bf16-resident frozen base (train.bf16_base): same losses as plain autocast, fp32 afterwards."""

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from transformers import LlamaForCausalLM

from goaltune.adapters import save_adapter
from goaltune.config import TrainConfig
from goaltune.data.encoding import encode_dataset
from goaltune.hardware import bf16_base_applies, bf16_frozen_base
from goaltune.train import train_adapter
from tests.conftest import build_tiny_model, lora, tiny_examples

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tied_tiny_model(tokenizer: Any) -> Any:
    """The tiny Llama with its output layer tied to the embeddings (as SmolLM2's is)."""
    config = build_tiny_model(tokenizer).config
    config.tie_word_embeddings = True
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    return model


def record_weight_dtypes(model: Any) -> dict[str, set[torch.dtype]]:
    """Forward hooks noting the weight dtypes a base layer, a LoRA layer and lm_head run with."""
    seen: dict[str, set[torch.dtype]] = {"base": set(), "lora": set(), "lm_head": set()}
    q_proj = model.get_base_model().model.layers[0].self_attn.q_proj
    modules = {"base": q_proj.base_layer, "lora": q_proj.lora_A["default"]}
    modules["lm_head"] = model.get_base_model().lm_head
    for key, module in modules.items():
        module.register_forward_hook(
            lambda mod, args, out, key=key: seen[key].add(mod.weight.dtype)
        )
    return seen


def train(tokenizer: Any, folder: Path, **overrides: Any) -> tuple[Any, Any]:
    """Four bf16 steps on the tied tiny model; returns (model, TrainResult)."""
    encoded, _ = encode_dataset(tiny_examples(16), tokenizer, max_seq_length=64)
    settings = {"max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": 1e-2}
    config = TrainConfig(
        **{"bf16": True, "save_steps": 2, "save_total_limit": 9, **settings, **overrides}
    )
    model = lora(tied_tiny_model(tokenizer))
    folder.mkdir(exist_ok=True)
    result = train_adapter(
        model, tokenizer, encoded[:12], encoded[12:], config, folder, show_progress=False
    )
    return model, result


def test_bf16_base_matches_autocast_and_restores_fp32(
    tmp_path: Path, tiny_model_and_tokenizer
) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    _, plain_result = train(tokenizer, tmp_path / "autocast", bf16_base=False)
    resident = lora(tied_tiny_model(tokenizer))
    original = {
        n: p.detach().clone() for n, p in resident.named_parameters() if not p.requires_grad
    }
    seen = record_weight_dtypes(resident)
    encoded, _ = encode_dataset(tiny_examples(16), tokenizer, max_seq_length=64)
    config = TrainConfig(max_steps=4, per_device_train_batch_size=4, learning_rate=1e-2, bf16=True)
    result = train_adapter(
        resident, tokenizer, encoded[:12], encoded[12:], config, tmp_path, show_progress=False
    )
    assert result.bf16 and result.bf16_base and not plain_result.bf16_base
    # while training, the frozen base ran in bf16 and the adapter in fp32
    assert seen == {"base": {torch.bfloat16}, "lora": {torch.float32}, "lm_head": {torch.bfloat16}}
    # the products are autocast's own bf16 casts, made once: the losses agree far below
    # bf16's resolution (2**-8 relative); observed identical on AVX512-BF16
    losses, reference = torch.tensor(result.train_losses), torch.tensor(plain_result.train_losses)
    assert torch.allclose(losses, reference, rtol=1e-3, atol=0)
    assert torch.allclose(
        torch.tensor([v for _, v in result.val_losses]),
        torch.tensor([v for _, v in plain_result.val_losses]),
        rtol=1e-3,
    )
    # afterwards the base is the fp32 model it was, tied again, and the adapter saved is fp32
    for name, param in resident.named_parameters():
        assert param.dtype == torch.float32, name
        if name in original:
            assert torch.equal(param, original[name]), name
    lm = resident.get_base_model()
    assert lm.lm_head.weight is lm.model.embed_tokens.weight
    weights = load_file(str(save_adapter(resident, tmp_path) / "adapter_model.safetensors"))
    assert weights and all("lora_" in name for name in weights)
    assert {t.dtype for t in weights.values()} == {torch.float32}


def test_bf16_off_leaves_the_base_in_fp32(tmp_path: Path, tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    model = lora(tied_tiny_model(tokenizer))
    seen = record_weight_dtypes(model)
    encoded, _ = encode_dataset(tiny_examples(8), tokenizer, max_seq_length=64)
    config = TrainConfig(max_steps=2, per_device_train_batch_size=4, bf16=False)
    result = train_adapter(model, tokenizer, encoded, [], config, tmp_path, show_progress=False)
    assert not result.bf16_base
    assert seen == {"base": {torch.float32}, "lora": {torch.float32}, "lm_head": {torch.float32}}


def test_bf16_base_resumes_to_the_same_losses(tmp_path: Path, tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    _, straight = train(tokenizer, tmp_path / "straight")
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(tmp_path / "straight", resumed_dir)
    encoded, _ = encode_dataset(tiny_examples(16), tokenizer, max_seq_length=64)
    config = TrainConfig(
        max_steps=4,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        bf16=True,
        save_steps=2,
        save_total_limit=9,
    )
    resumed = train_adapter(
        lora(tied_tiny_model(tokenizer)),
        tokenizer,
        encoded[:12],
        encoded[12:],
        config,
        resumed_dir,
        show_progress=False,
        resume_from=resumed_dir / "checkpoints" / "step-000002",
    )
    assert resumed.bf16_base
    assert resumed.train_losses == straight.train_losses


def test_bf16_base_applies_only_with_bf16_one_process_and_no_dora(tiny_model_and_tokenizer):
    _, tokenizer = tiny_model_and_tokenizer
    model = lora(build_tiny_model(tokenizer))
    assert bf16_base_applies(model, bf16=True, setting=True, processes=1)
    assert not bf16_base_applies(model, bf16=False, setting=True, processes=1)
    assert not bf16_base_applies(model, bf16=True, setting=False, processes=1)
    assert not bf16_base_applies(model, bf16=True, setting=True, processes=2)
    from goaltune.adapters import build_lora_model
    from goaltune.config import LoraConfig

    dora = build_lora_model(build_tiny_model(tokenizer), LoraConfig(r=4, use_dora=True))
    assert not bf16_base_applies(dora, bf16=True, setting=True, processes=1)


def test_bf16_copy_is_used_only_under_bf16_autocast(tiny_model_and_tokenizer) -> None:
    """Mid-training evaluation without autocast (the goal watch) sees the fp32 model."""
    _, tokenizer = tiny_model_and_tokenizer
    model = lora(tied_tiny_model(tokenizer)).eval()
    ids = torch.tensor([tokenizer("The quick brown fox jumps over the lazy dog.")["input_ids"]])
    with torch.no_grad():
        fp32 = model(input_ids=ids).logits
        with torch.autocast("cpu", dtype=torch.bfloat16):
            cast = model(input_ids=ids).logits
        with bf16_frozen_base(model, enabled=True):
            assert torch.equal(model(input_ids=ids).logits, fp32)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                assert torch.equal(model(input_ids=ids).logits, cast)
            assert torch.equal(model(input_ids=ids).logits, fp32)
        assert torch.equal(model(input_ids=ids).logits, fp32)
