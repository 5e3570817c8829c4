"""Shared-context log-likelihood: each context computed once, its continuations packed behind it.

A multiple-choice question scores every choice as a continuation of the same context. The harness
runs one forward pass per (context, continuation) pair, so the context is recomputed for every
choice. Here one row holds the context once, followed by every continuation without its last
token. A 4D attention mask lets each continuation token see the context and the earlier tokens
of its own continuation only, and its position ids continue from the end of the context, so each
token sees exactly what it sees in its own forward pass. The vocabulary projection runs only at
the positions that predict continuation tokens. Scores equal the separate passes up to
floating-point rounding (the matrix shapes differ, so not bit for bit).

Requests are packed only where that is exact: the model is a decoder with a separate LM head
under SDPA or eager attention, logits are not soft-capped, and the request needs no truncation
(nor, for sliding-window models, spans more than the window).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from goaltune.loss import causal_lm

_MASKABLE_ATTENTION = {"sdpa", "eager"}


@dataclass(frozen=True)
class Pack:
    """Requests (indices) sharing one context, scored together in one row."""

    context: tuple[int, ...]
    members: tuple[int, ...]

    def width(self, encoded: Sequence[Any]) -> int:
        """Row length: the context plus each continuation without its last token."""
        return len(self.context) + sum(len(encoded[i].continuation) - 1 for i in self.members)


def packing_window(model: Any, limit: int) -> int | None:
    """The longest request (context + continuation tokens) that can be packed exactly, or None.

    None when the model's structure or attention does not allow a custom mask with hidden
    states taken before the LM head; otherwise the harness's truncation limit + 1, or less for
    a sliding-window model.
    """
    lm = causal_lm(model)
    config = getattr(lm, "config", None)
    if (
        config is None
        or getattr(lm, "model", None) is None
        or lm.get_output_embeddings() is None
        or getattr(config, "is_encoder_decoder", False)
    ):
        return None
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    if getattr(text, "_attn_implementation", "eager") not in _MASKABLE_ATTENTION:
        return None
    if any(
        getattr(text, name, None)
        for name in (
            "final_logit_softcapping",
            "logit_scale",
            "logits_scaling",
            "output_multiplier",
        )
    ):
        return None
    window = limit + 1
    sliding = getattr(text, "sliding_window", None)
    return min(window, int(sliding) + 1) if sliding else window


def make_packs(encoded: Sequence[Any], window: int) -> tuple[list[Pack], list[int]]:
    """Packs of requests sharing a context (longest row first) and the requests left unpacked.

    `encoded[i]` has `context` and `continuation` token lists; a request longer than `window`
    tokens is left for the one-pass-per-request path.
    """
    by_context: dict[tuple[int, ...], list[int]] = defaultdict(list)
    rest = []
    for index, pair in enumerate(encoded):
        if len(pair.context) + len(pair.continuation) > window or not pair.context:
            rest.append(index)
        else:
            by_context[tuple(pair.context)].append(index)
    packs = [Pack(context, tuple(members)) for context, members in by_context.items()]
    packs.sort(key=lambda p: (-p.width(encoded), p.context))
    return packs, rest


@dataclass
class _Row:
    tokens: list[int]
    positions: list[int]
    segments: list[int]  # 0: context, n: the n-th continuation
    targets: list[tuple[int, list[int], list[int]]]  # (request, predicting columns, tokens)


def _row(pack: Pack, encoded: Sequence[Any]) -> _Row:
    size = len(pack.context)
    row = _Row(list(pack.context), list(range(size)), [0] * size, [])
    for number, index in enumerate(pack.members, start=1):
        continuation = encoded[index].continuation
        start = len(row.tokens)
        row.tokens += continuation[:-1]
        row.positions += range(size, size + len(continuation) - 1)
        row.segments += [number] * (len(continuation) - 1)
        row.targets.append(
            (index, [size - 1, *range(start, start + len(continuation) - 1)], list(continuation))
        )
    return row


def _mask(segments: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive (batch, 1, width, width) mask: a query sees earlier context tokens and earlier
    tokens of its own continuation. Padding (segment -1) is never seen."""
    width = segments.shape[1]
    index = torch.arange(width, device=segments.device)
    causal = index[:, None] >= index[None, :]
    query, key = segments[:, :, None], segments[:, None, :]
    allowed = causal & (key >= 0) & ((key == 0) | (key == query))
    mask = torch.zeros(allowed.shape, dtype=dtype, device=segments.device)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min)[:, None]


def score_packs(
    model: Any, packs: list[Pack], encoded: Sequence[Any], device: torch.device
) -> list[tuple[int, float, bool]]:
    """(request index, log-likelihood, is-greedy) for every request of the packs (one forward)."""
    rows = [_row(pack, encoded) for pack in packs]
    width = max(len(row.tokens) for row in rows)

    def padded(values: list[list[int]], fill: int) -> torch.Tensor:
        return torch.tensor([v + [fill] * (width - len(v)) for v in values], device=device)

    lm = causal_lm(model)
    dtype = lm.get_input_embeddings().weight.dtype
    hidden = lm.model(
        input_ids=padded([r.tokens for r in rows], 0),
        position_ids=padded([r.positions for r in rows], 0),
        attention_mask=_mask(padded([r.segments for r in rows], -1), dtype),
        use_cache=False,
    ).last_hidden_state
    where = [
        (r, column)
        for r, row in enumerate(rows)
        for _, columns, _ in row.targets
        for column in columns
    ]
    picked = hidden[[r for r, _ in where], [c for _, c in where]]
    logprobs = F.log_softmax(lm.get_output_embeddings()(picked), dim=-1)
    results, offset = [], 0
    for row in rows:
        for index, columns, tokens in row.targets:
            span = logprobs[offset : offset + len(columns)]
            target = torch.tensor(tokens, device=device)
            total = float(span.gather(1, target[:, None]).sum())
            results.append((index, total, bool((span.argmax(dim=-1) == target).all())))
            offset += len(columns)
    return results
