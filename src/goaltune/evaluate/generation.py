"""Batched greedy generation: length-sorted batches, left padding, KV cache, stop sequences."""

from __future__ import annotations

from typing import Any

import torch

from goaltune.config import DEFAULT_EVAL_BATCH_SIZE
from goaltune.distributed import context
from goaltune.progress import ProgressBar


def render_prompts(tokenizer: Any, conversations: list[list[dict[str, str]]]) -> list[str]:
    """Apply the chat template with the generation prompt to each conversation."""
    return [
        tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        for messages in conversations
    ]


def _cut_at_stop(text: str, stop: list[str]) -> str:
    cut = min((text.find(s) for s in stop if s and s in text), default=-1)
    return text if cut < 0 else text[:cut]


def _stopped(text: str, stop: list[str]) -> bool:
    return any(s and s in text for s in stop)


@torch.no_grad()
def greedy_batch(
    model: Any,
    tokenizer: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    max_new_tokens: int,
    stop: list[str],
) -> list[list[int]]:
    """Greedy new tokens for one left-padded batch, with the KV cache.

    A row leaves the batch as soon as it emits EOS or its text contains a stop sequence: its cache
    rows are dropped, so the remaining decode steps only compute the rows still running.
    """
    eos = tokenizer.eos_token_id
    rows = list(range(input_ids.shape[0]))
    tokens: list[list[int]] = [[] for _ in rows]
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,
    )
    cache, next_positions = out.cache, positions[:, -1:] + 1
    for _ in range(max_new_tokens):
        chosen = out.logits[:, -1].argmax(-1)
        keep = []
        for slot, (row, token) in enumerate(zip(rows, chosen.tolist())):
            if token == eos:
                continue
            tokens[row].append(token)
            if not (stop and _stopped(tokenizer.decode(tokens[row][-16:]), stop)):
                keep.append(slot)
        if not keep or len(tokens[rows[keep[0]]]) >= max_new_tokens:
            break
        if len(keep) < len(rows):
            index = torch.tensor(keep, device=chosen.device)
            cache.batch_select_indices(index)
            chosen, attention_mask = chosen[index], attention_mask[index]
            next_positions = next_positions[index]
            rows = [rows[slot] for slot in keep]
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(len(rows), 1)], dim=-1)
        out = model(
            input_ids=chosen[:, None],
            attention_mask=attention_mask,
            position_ids=next_positions,
            cache=cache,
            use_cache=True,
        )
        next_positions = next_positions + 1
    return tokens


def generate_texts(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    max_new_tokens: int = 256,
    batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
    stop: list[str] | None = None,
    label: str = "generate",
    show_progress: bool = True,
) -> list[str]:
    """Greedy completions of already-rendered prompts, returned in the input order.

    Prompts are sorted by length so each batch carries little padding; every sequence stops at
    EOS (leaving its batch, see `greedy_batch`) and is cut at the first stop sequence. With
    several processes each generates every N-th batch (the same batches as one process would)
    and all of them get every output.
    """
    model.eval()
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
    outputs: dict[int, str] = {}
    starts = context().share(range(0, len(order), batch_size))
    own = sum(len(order[start : start + batch_size]) for start in starts)
    with ProgressBar(label, own, show=show_progress) as progress:
        for start in starts:
            batch_ids = order[start : start + batch_size]
            encoded = tokenizer(
                [prompts[i] for i in batch_ids],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(device)
            new_tokens = greedy_batch(
                model,
                tokenizer,
                encoded["input_ids"],
                encoded["attention_mask"],
                max_new_tokens,
                stop or [],
            )
            for row, index in enumerate(batch_ids):
                text = tokenizer.decode(new_tokens[row], skip_special_tokens=True)
                outputs[index] = _cut_at_stop(text, stop or [])
            progress.advance(len(batch_ids))
    outputs = context().merge(outputs)
    return [outputs[index] for index in range(len(prompts))]
