"""Batched greedy generation: length-sorted batches, left padding, KV cache, stop sequences.

With prompt lookup (`eval.prompt_lookup`, see `lookup_batch`) each step also verifies tokens
copied from the prompt, so answers that copy the request take fewer steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


# Draft tokens per prompt-lookup step; 0: plain greedy steps. Set for a whole evaluation by
# `prompt_lookup`, so every benchmark's generation uses it without a parameter of its own.
_DRAFT_TOKENS: ContextVar[int] = ContextVar("prompt_lookup", default=0)
MAX_NGRAM = 3


@contextmanager
def prompt_lookup(draft_tokens: int) -> Iterator[None]:
    """Generate with prompt-lookup drafts of up to `draft_tokens` tokens inside the block."""
    token = _DRAFT_TOKENS.set(draft_tokens)
    try:
        yield
    finally:
        _DRAFT_TOKENS.reset(token)


def draft(sequence: list[int], size: int, max_ngram: int = MAX_NGRAM) -> list[int]:
    """The `size` tokens that followed the latest earlier occurrence of the sequence's last
    n-gram, trying the longest n-gram (up to `max_ngram`) first; [] when none recurs."""
    for n in range(min(max_ngram, len(sequence) - 1), 0, -1):
        pattern = sequence[-n:]
        for start in range(len(sequence) - n - 1, -1, -1):
            if sequence[start : start + n] == pattern:
                return sequence[start + n : start + n + size]
    return []


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


def _take(
    new: list[int], tokens: list[int], text: list[int], tokenizer: Any, limit: int, stop: list[str]
) -> bool:
    """Append a row's new tokens until EOS, a stop sequence or the limit; True if it goes on."""
    for token in new:
        if token == tokenizer.eos_token_id:
            return False
        tokens.append(token)
        text.append(token)
        if stop and _stopped(tokenizer.decode(tokens[-16:]), stop):
            return False
        if len(tokens) >= limit:
            return False
    return True


@torch.no_grad()
def lookup_batch(
    model: Any,
    tokenizer: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    max_new_tokens: int,
    stop: list[str],
    draft_tokens: int,
) -> list[list[int]]:
    """`greedy_batch`'s tokens, with prompt-lookup drafts verified in each forward pass.

    Each step a row feeds its last token followed by a draft (`draft` over its prompt and
    output); it keeps the draft's longest prefix that matches its own greedy predictions, plus
    the prediction after it. Rows keep different numbers of tokens but share one cache: every
    row's cache grows by the block width, and the positions of rejected drafts are masked out
    of all later steps. Scoring several tokens per pass rounds differently from one at a time,
    so the outputs are greedy's unless two logits tie within rounding.
    """
    rows = list(range(input_ids.shape[0]))
    tokens: list[list[int]] = [[] for _ in rows]
    texts = [ids[mask.bool()].tolist() for ids, mask in zip(input_ids, attention_mask)]
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,
    )
    cache, next_positions = out.cache, positions[:, -1] + 1
    new = [[token] for token in out.logits[:, -1].argmax(-1).tolist()]
    while True:
        keep = [
            slot
            for slot, row in enumerate(rows)
            if _take(new[slot], tokens[row], texts[row], tokenizer, max_new_tokens, stop)
        ]
        if not keep:
            return tokens
        if len(keep) < len(rows):
            index = torch.tensor(keep, device=input_ids.device)
            cache.batch_select_indices(index)
            attention_mask, next_positions = attention_mask[index], next_positions[index]
            rows = [rows[slot] for slot in keep]
        drafts = [draft(texts[row], draft_tokens) for row in rows]
        width = max(len(d) for d in drafts)
        block = torch.tensor(
            [
                [tokens[row][-1], *d, *[tokens[row][-1]] * (width - len(d))]
                for row, d in zip(rows, drafts)
            ],
            device=input_ids.device,
        )
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(block.shape)], dim=-1)
        offsets = torch.arange(width + 1, device=input_ids.device)
        out = model(
            input_ids=block,
            attention_mask=attention_mask,
            position_ids=next_positions[:, None] + offsets,
            cache=cache,
            use_cache=True,
        )
        predicted = out.logits.argmax(-1)
        accepted = (block[:, 1:] == predicted[:, :-1]).long().cumprod(-1).sum(-1)
        attention_mask[:, -(width + 1) :] = (offsets[None] <= accepted[:, None]).long()
        next_positions = next_positions + 1 + accepted
        new = [
            [*block[slot, 1 : 1 + a].tolist(), int(predicted[slot, a])]
            for slot, a in enumerate(accepted.tolist())
        ]


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
            batch = (encoded["input_ids"], encoded["attention_mask"], max_new_tokens, stop or [])
            draft_tokens = _DRAFT_TOKENS.get()
            new_tokens = (
                lookup_batch(model, tokenizer, *batch, draft_tokens)
                if draft_tokens
                else greedy_batch(model, tokenizer, *batch)
            )
            for row, index in enumerate(batch_ids):
                text = tokenizer.decode(new_tokens[row], skip_special_tokens=True)
                outputs[index] = _cut_at_stop(text, stop or [])
            progress.advance(len(batch_ids))
    outputs = context().merge(outputs)
    return [outputs[index] for index in range(len(prompts))]
