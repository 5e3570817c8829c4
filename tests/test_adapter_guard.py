"""An evaluation "with the adapter" must not silently run the base model."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from goaltune.adapters import build_lora_model, require_active_adapter
from goaltune.config import LoraConfig
from goaltune.errors import ModelError
from tests.conftest import build_tiny_model


def test_untrained_adapter_is_refused(tiny_model_and_tokenizer: Any) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    model = build_lora_model(
        build_tiny_model(tokenizer), LoraConfig(r=4, target_modules="all-linear")
    )
    with pytest.raises(ModelError, match="does not change the model's outputs"):
        require_active_adapter(model, tokenizer, "runs/x/adapter")


def test_trained_adapter_passes(tiny_model_and_tokenizer: Any) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    model = build_lora_model(
        build_tiny_model(tokenizer), LoraConfig(r=4, target_modules="all-linear")
    )
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.fill_(0.05)
    require_active_adapter(model, tokenizer, "runs/x/adapter")


def test_model_without_adapter_is_refused(tiny_model_and_tokenizer: Any) -> None:
    model, tokenizer = tiny_model_and_tokenizer
    with pytest.raises(ModelError, match="carries no adapter"):
        require_active_adapter(model, tokenizer, "runs/x/adapter")
