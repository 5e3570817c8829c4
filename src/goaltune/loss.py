"""goaltune's training loss: summed cross-entropy over the supervised next-token positions.

One home for the loss, so the training loop (`train.py`), the step engine (`engine.py`) and the
packed log-likelihood scorer (`evaluate/packed.py`) share it without importing one another.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from goaltune.data.encoding import IGNORE_INDEX, Encoded
from goaltune.errors import ConfigError

# Attention implementations for which Transformers turns packed position ids into a mask that
# keeps a row's examples apart; its flash-attention path detects packing only in one-row batches.
PACKED_ATTENTION = ("sdpa", "eager", "flex_attention")


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
    # a packed batch has position ids and no attention mask (see data.encoding.collate_packed)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids") if k in batch}
    if supervised_only and decoder is not None and hasattr(lm, "lm_head"):
        hidden = decoder(**inputs, use_cache=False).last_hidden_state
        logits = lm.lm_head(hidden[:, :-1][mask])
    else:
        full = model(**inputs, use_cache=False).logits
        logits = full[:, :-1][mask]
    loss = F.cross_entropy(logits.float(), labels[mask], reduction="sum")
    return loss, count


def require_packed_attention(model: Any) -> None:
    """ConfigError unless the model's attention keeps packed examples apart (train.packing)."""
    kind = getattr(causal_lm(model).config, "_attn_implementation", None)
    if kind not in PACKED_ATTENTION:
        raise ConfigError(
            f"train.packing: the model's attention implementation ({kind}) cannot keep packed "
            f"examples apart (supported: {', '.join(PACKED_ATTENTION)}); set train.packing: false"
        )


def supervised_targets(item: Encoded) -> int:
    """The example's next-token targets that carry a label: its share of a step's loss."""
    return sum(1 for label in item.labels[1:] if label != IGNORE_INDEX)
