"""Log-likelihood of continuations, computed the way lm-evaluation-harness's HFLM does.

Each request is a (context, continuation) pair. Encoding follows the harness: trailing spaces of
the context move to the continuation, the whole string is encoded and split after the encoded
context, and an empty context is replaced by the BOS (or EOS) token. Requests whose tokens
context + continuation[:-1] coincide (e.g. the one-token answers " A".." D" of one question) share
a single forward pass; the rest are sorted longest first and right-padded into batches, so the
model is called on the same batches as the harness with the same batch size, and the
log-likelihoods are bit-identical to the harness's (`shared_context=False`).

By default (`shared_context=True`, config key `eval.shared_context`) the requests of one context
are packed into one row instead (see `goaltune.evaluate.packed`): each context is computed once
for all its choices and the vocabulary projection runs only where a continuation token is
predicted. Log-likelihoods then equal the harness's up to floating-point rounding.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from goaltune.config import DEFAULT_EVAL_BATCH_SIZE
from goaltune.distributed import context
from goaltune.evaluate.packed import make_packs, packing_window, score_packs
from goaltune.progress import ProgressBar

DEFAULT_MAX_LENGTH = 2048
_TOKENIZER_INFINITY = 1000000000000000019884624838656


@dataclass(frozen=True)
class _Encoded:
    context: list[int]
    continuation: list[int]

    @property
    def tokens(self) -> list[int]:
        return self.context + self.continuation


def _prefix_token_id(tokenizer: Any) -> int:
    bos = tokenizer.bos_token_id
    return bos if bos is not None else tokenizer.eos_token_id


def _encode(tokenizer: Any, text: str, add_special_tokens: bool | None = None) -> list[int]:
    """The harness's tok_encode: tokenizer defaults, no special tokens if text starts with BOS."""
    kwargs = {} if add_special_tokens is None else {"add_special_tokens": add_special_tokens}
    if add_special_tokens is None and text.startswith(
        tokenizer.decode(_prefix_token_id(tokenizer))
    ):
        kwargs["add_special_tokens"] = False
    return tokenizer.encode(text, **kwargs)


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids of context and continuation as the harness splits them."""
    if context == "":
        cont = _encode(tokenizer, continuation, add_special_tokens=False)
        prefix = _prefix_token_id(tokenizer)
        return ([prefix], cont) if prefix != cont[0] else (cont[:1], cont[1:])
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    whole = _encode(tokenizer, context + continuation)
    context_ids = _encode(tokenizer, context)
    return context_ids, whole[len(context_ids) :]


def max_length(model: Any, tokenizer: Any) -> int:
    """The model's context length, resolved as the harness does (config, tokenizer, 2048)."""
    config = getattr(model.config, "text_config", None) or model.config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, attr, None)
        if value is not None:
            return int(value)
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if limit is not None and limit != _TOKENIZER_INFINITY else DEFAULT_MAX_LENGTH


def _groups(encoded: list[_Encoded], indices: list[int]) -> list[tuple[int, list[int]]]:
    """(representative, members) of requests sharing context + continuation[:-1], longest first.

    One forward pass of the representative (the member with the longest continuation, the
    first on ties) serves the whole group. Groups are sorted as the harness sorts requests:
    by descending token count, then by the tokens.
    """
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for index in indices:
        pair = encoded[index]
        groups[tuple(pair.context + pair.continuation[:-1])].append(index)
    pairs = [(max(g, key=lambda i: len(encoded[i].continuation)), g) for g in groups.values()]
    return sorted(pairs, key=lambda p: (-len(encoded[p[0]].tokens), tuple(encoded[p[0]].tokens)))


def _score_batch(
    model: Any,
    batch: list[tuple[int, list[int]]],
    encoded: list[_Encoded],
    limit: int,
    device: torch.device,
) -> list[tuple[int, float, bool]]:
    """(request index, log-likelihood, is-greedy) for every request of the groups in `batch`."""
    inputs = [encoded[rep].tokens[-(limit + 1) :][:-1] for rep, _ in batch]
    width = max(len(tokens) for tokens in inputs)
    padded = torch.tensor(
        [tokens + [0] * (width - len(tokens)) for tokens in inputs], device=device
    )
    logits = model(padded).logits
    results = []
    for row, ((rep, group), tokens) in enumerate(zip(batch, inputs)):
        end = len(tokens) + logits.shape[1] - width
        span = len(encoded[rep].continuation)
        logprobs = F.log_softmax(logits[row, end - span : end], dim=-1)
        greedy = logprobs.argmax(dim=-1)
        for index in group:
            cont = torch.tensor(encoded[index].continuation, device=device)
            tail = logprobs[-len(cont) :]
            total = float(torch.gather(tail, 1, cont.unsqueeze(-1)).sum())
            results.append((index, total, bool((greedy[-len(cont) :] == cont).all())))
    return results


def _plan(
    model: Any, encoded: list[_Encoded], limit: int, batch_size: int, shared_context: bool
) -> list[tuple[bool, list[Any], int]]:
    """Batches to score: (packed?, packs or groups, number of requests), packed ones first."""
    window = packing_window(model, limit) if shared_context else None
    packs, rest = make_packs(encoded, window) if window else ([], list(range(len(encoded))))
    plan: list[tuple[bool, list[Any], int]] = []
    kinds: list[tuple[bool, list[Any]]] = [(True, packs), (False, _groups(encoded, rest))]
    for packed, units in kinds:
        for start in range(0, len(units), batch_size):
            batch = units[start : start + batch_size]
            count = sum(len(u.members) if packed else len(u[1]) for u in batch)
            plan.append((packed, batch, count))
    return plan


@torch.no_grad()
def loglikelihoods(
    model: Any,
    tokenizer: Any,
    requests: list[tuple[str, str]],
    batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
    show_progress: bool = True,
    label: str = "loglikelihood",
    shared_context: bool = True,
) -> list[tuple[float, bool]]:
    """Sum log-probability of each continuation given its context, and whether it is greedy.

    Deterministic for a given batch size; results are returned in the order of `requests`.
    With `shared_context`, requests sharing a context are scored in one packed row (batches of
    `batch_size` contexts); without it, exactly as the harness batches them.
    With several processes each scores every N-th batch (the batches one process would) and all
    of them get every result.
    """
    model.eval()
    device = next(model.parameters()).device
    encoded = [_Encoded(*encode_pair(tokenizer, c, x)) for c, x in requests]
    limit = max_length(model, tokenizer)
    batches = _plan(model, encoded, limit, batch_size, shared_context)
    results: dict[int, tuple[float, bool]] = {}
    mine = context().share(batches)
    own = sum(count for _, _, count in mine)
    with ProgressBar(label, own, show=show_progress) as progress:
        for packed, batch, _ in mine:
            scored = (
                score_packs(model, batch, encoded, device)
                if packed
                else _score_batch(model, batch, encoded, limit, device)
            )
            for index, total, greedy in scored:
                results[index] = (total, greedy)
            progress.advance(len(scored))
    results = context().merge(results)
    return [results[index] for index in range(len(requests))]
