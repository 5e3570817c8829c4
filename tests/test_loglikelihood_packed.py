"""Shared-context (packed) log-likelihood scoring against the one-pass-per-request path."""

from __future__ import annotations

import copy
import random

import pytest
import torch

from goaltune.evaluate.loglikelihood import _Encoded, encode_pair, loglikelihoods
from goaltune.evaluate.packed import _mask, make_packs, packing_window, score_packs

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Question", "Answer"]


def _mixed_requests(seed: int = 0) -> list[tuple[str, str]]:
    """Contexts with one-token letters, multi-token choices of different lengths, odd contexts."""
    rnd = random.Random(seed)
    requests = []
    for _ in range(6):
        context = "Question: " + " ".join(rnd.choices(WORDS, k=rnd.randint(2, 20))) + "\nAnswer:"
        requests += [(context, f" {letter}") for letter in "ABCD"]
        requests += [
            (context, " " + " ".join(rnd.choices(WORDS, k=rnd.randint(1, 7)))) for _ in range(3)
        ]
    return requests + [("", " hello world"), ("Dr. Smith ", "lives in the U.S."), ("fox", " jumps")]


@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_packed_scores_equal_one_pass_per_request(
    tiny_model_and_tokenizer, one_torch_thread, batch_size
):
    model, tokenizer = tiny_model_and_tokenizer
    requests = _mixed_requests()
    exact = loglikelihoods(
        model, tokenizer, requests, batch_size=batch_size, show_progress=False, shared_context=False
    )
    packed = loglikelihoods(
        model, tokenizer, requests, batch_size=batch_size, show_progress=False, shared_context=True
    )
    for (total, greedy), (expected, expected_greedy) in zip(packed, exact):
        assert total == pytest.approx(expected, abs=1e-4)
        assert greedy == expected_greedy


def test_greedy_continuation_is_recognised(tiny_model_and_tokenizer, one_torch_thread):
    """A continuation made of the model's own argmax tokens is greedy; a changed one is not."""
    model, tokenizer = tiny_model_and_tokenizer
    context = "Question: the quick brown fox\nAnswer:"
    ids = tokenizer.encode(context)
    with torch.no_grad():
        for _ in range(3):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    greedy_text = tokenizer.decode(ids[len(tokenizer.encode(context)) :])
    assert encode_pair(tokenizer, context, greedy_text)[1] == ids[len(tokenizer.encode(context)) :]
    requests = [(context, greedy_text), (context, " dog")]
    results = loglikelihoods(model, tokenizer, requests, show_progress=False)
    exact = loglikelihoods(model, tokenizer, requests, show_progress=False, shared_context=False)
    assert [greedy for _, greedy in results] == [True, False] == [greedy for _, greedy in exact]
    assert [t for t, _ in results] == pytest.approx([t for t, _ in exact], abs=1e-4)


def test_one_forward_per_batch_of_contexts(tiny_model_and_tokenizer, one_torch_thread):
    model, tokenizer = tiny_model_and_tokenizer
    requests = _mixed_requests(seed=1)[:21]  # 3 contexts x 7 choices
    calls = []
    hook = model.model.register_forward_hook(lambda m, a, k, out: calls.append(1), with_kwargs=True)
    try:
        loglikelihoods(model, tokenizer, requests, batch_size=2, show_progress=False)
    finally:
        hook.remove()
    assert len(calls) == 2


def test_a_continuation_sees_the_context_and_itself_only():
    segments = torch.tensor([[0, 0, 1, 1, 2, -1]])
    allowed = _mask(segments, torch.float32)[0, 0] == 0
    assert allowed[1, :2].all() and not allowed[1, 2:].any()  # context: causal
    assert allowed[3, :4].tolist() == [True, True, True, True]  # segment 1 token 2
    assert allowed[4].tolist() == [True, True, False, False, True, False]  # segment 2: not 1
    assert not allowed[:, 5].any()  # padding is never seen
    assert allowed.any(dim=1).all()  # every row sees something: no NaN


def test_long_requests_and_empty_contexts_are_left_unpacked():
    encoded = [
        _Encoded([1, 2, 3], [4, 5]),
        _Encoded([1, 2, 3], [6]),
        _Encoded([1, 2, 3, 4, 5, 6], [7, 8]),
        _Encoded([], [9]),
    ]
    packs, rest = make_packs(encoded, window=6)
    assert [(p.context, p.members) for p in packs] == [((1, 2, 3), (0, 1))]
    assert rest == [2, 3]
    assert packs[0].width(encoded) == 4


def test_packing_window_follows_the_model(tiny_model_and_tokenizer):
    model, _ = tiny_model_and_tokenizer
    assert packing_window(model, 100) == 101
    capped = copy.deepcopy(model)
    capped.config.final_logit_softcapping = 30.0
    assert packing_window(capped, 100) is None
    sliding = copy.deepcopy(model)
    sliding.config.sliding_window = 16
    assert packing_window(sliding, 100) == 17
    flash = copy.deepcopy(model)
    flash.config._attn_implementation = "flash_attention_2"
    assert packing_window(flash, 100) is None


def test_unpackable_model_uses_one_pass_per_request(tiny_model_and_tokenizer, one_torch_thread):
    model, tokenizer = tiny_model_and_tokenizer
    capped = copy.deepcopy(model)
    capped.config.final_logit_softcapping = 30.0  # not applied by Llama; only blocks packing
    requests = _mixed_requests(seed=2)
    assert loglikelihoods(capped, tokenizer, requests, show_progress=False) == loglikelihoods(
        model, tokenizer, requests, show_progress=False, shared_context=False
    )


def test_packed_path_scores_through_a_lora_adapter(tiny_model_and_tokenizer, one_torch_thread):
    from peft import LoraConfig, get_peft_model

    model, tokenizer = tiny_model_and_tokenizer
    torch.manual_seed(0)
    lora = get_peft_model(
        copy.deepcopy(model), LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)
    )
    requests = _mixed_requests(seed=3)

    def totals(evaluated: object, shared: bool) -> list[float]:
        return [
            t
            for t, _ in loglikelihoods(
                evaluated, tokenizer, requests, show_progress=False, shared_context=shared
            )
        ]

    packed = totals(lora, True)
    assert packed == pytest.approx(totals(lora, False), abs=1e-4)
    assert packed != pytest.approx(totals(model, False), abs=1e-4)


def test_score_packs_returns_every_member(tiny_model_and_tokenizer, one_torch_thread):
    model, tokenizer = tiny_model_and_tokenizer
    encoded = [_Encoded(*encode_pair(tokenizer, c, x)) for c, x in _mixed_requests(seed=4)]
    packs, rest = make_packs(encoded, window=10_000)
    with torch.no_grad():
        scored = score_packs(model, packs, encoded, torch.device("cpu"))
    assert sorted(index for index, _, _ in scored) == sorted(set(range(len(encoded))) - set(rest))
