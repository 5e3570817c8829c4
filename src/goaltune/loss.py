"""goaltune's training loss: summed cross-entropy over the supervised next-token positions.

One home for the loss, so the training loop (`train.py`), the step engine (`engine.py`) and the
packed log-likelihood scorer (`evaluate/packed.py`) share it without importing one another.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from goaltune.data.encoding import IGNORE_INDEX, Encoded


def causal_lm(model: Any) -> Any:
    """The underlying *ForCausalLM module (inside a PEFT wrapper when there is one)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def token_loss_sum(
    model: Any, batch: dict[str, torch.Tensor], supervised_only: bool
) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over supervised next-token positions, and their count.

    With `supervised_only`, the vocabulary projection runs only at positions that carry a label,
    instead of for every token: prompts cost no lm_head compute.
    """
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    count = int(mask.sum())
    lm = causal_lm(model)
    decoder = getattr(lm, "model", None)
    if supervised_only and decoder is not None and hasattr(lm, "lm_head"):
        hidden = decoder(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state
        logits = lm.lm_head(hidden[:, :-1][mask])
    else:
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        logits = full[:, :-1][mask]
    loss = F.cross_entropy(logits.float(), labels[mask], reduction="sum")
    return loss, count


def supervised_targets(item: Encoded) -> int:
    """The example's next-token targets that carry a label: its share of a step's loss."""
    return sum(1 for label in item.labels[1:] if label != IGNORE_INDEX)
