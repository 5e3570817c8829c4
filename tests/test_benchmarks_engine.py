"""The log-likelihood engine: harness encoding, batching, shared contexts, and adapters."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from goaltune.evaluate.benchmarks import run_benchmarks
from goaltune.evaluate.loglikelihood import encode_pair, loglikelihoods
from tests.conftest import build_tiny_model

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "Question",
    "Answer",
    "eggs",
    "market",
]


def _requests(seed: int = 0, contexts: int = 5) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    requests = []
    for _ in range(contexts):
        context = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 25)))
        context += rnd.choice(["", " ", ":", "\n"])
        requests += [(context, f" {letter}") for letter in "ABCD"]
        requests.append((context, " " + " ".join(rnd.choices(WORDS, k=rnd.randint(1, 6)))))
    return requests


@torch.no_grad()
def _reference(model, tokenizer, context: str, continuation: str) -> tuple[float, bool]:
    """One unbatched forward over context + continuation, scored position by position."""
    ctx, cont = encode_pair(tokenizer, context, continuation)
    logits = model(torch.tensor([ctx + cont])).logits[0]
    logprobs = F.log_softmax(logits[len(ctx) - 1 : -1], dim=-1)
    target = torch.tensor(cont)
    total = float(logprobs.gather(1, target.unsqueeze(-1)).sum())
    return total, bool((logprobs.argmax(-1) == target).all())


def test_encode_pair_moves_trailing_spaces_to_the_continuation(tiny_model_and_tokenizer):
    _, tokenizer = tiny_model_and_tokenizer
    ctx, cont = encode_pair(tokenizer, "Answer: ", "yes")
    assert (ctx, cont) == encode_pair(tokenizer, "Answer:", " yes")
    assert ctx + cont == tokenizer.encode("Answer: yes")
    assert tokenizer.decode(cont) == " yes"


def test_empty_context_is_the_bos_token(tiny_model_and_tokenizer):
    _, tokenizer = tiny_model_and_tokenizer
    ctx, cont = encode_pair(tokenizer, "", "hello world")
    assert ctx == [tokenizer.bos_token_id]
    assert cont == tokenizer.encode("hello world", add_special_tokens=False)


def test_matches_unbatched_reference(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    requests = _requests()
    results = loglikelihoods(model, tokenizer, requests, batch_size=7, show_progress=False)
    for request, (total, greedy) in zip(requests, results):
        expected_total, expected_greedy = _reference(model, tokenizer, *request)
        assert total == pytest.approx(expected_total, abs=1e-4)
        assert greedy == expected_greedy


def test_deterministic_and_independent_of_batching_and_order(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    requests = _requests(seed=1)
    first = loglikelihoods(model, tokenizer, requests, batch_size=5, show_progress=False)
    assert first == loglikelihoods(model, tokenizer, requests, batch_size=5, show_progress=False)
    single = loglikelihoods(model, tokenizer, requests, batch_size=1, show_progress=False)
    order = list(range(len(requests)))
    random.Random(2).shuffle(order)
    shuffled = loglikelihoods(
        model, tokenizer, [requests[i] for i in order], batch_size=5, show_progress=False
    )
    for index, (total, greedy) in zip(order, shuffled):
        assert total == pytest.approx(first[index][0], abs=1e-4)
        assert total == pytest.approx(single[index][0], abs=1e-4)
        assert greedy == first[index][1]


def test_one_token_choices_share_one_forward_per_context(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    contexts = [
        "Question: the fox?\nAnswer:",
        "Question: the dog?\nAnswer:",
        "Question: eggs\nAnswer:",
    ]
    requests = [(c, f" {letter}") for c in contexts for letter in "ABCD"]
    assert all(len(encode_pair(tokenizer, *r)[1]) == 1 for r in requests)
    calls = []
    hook = model.register_forward_hook(lambda module, args, output: calls.append(args[0].shape))
    try:
        shared = loglikelihoods(
            model, tokenizer, requests, batch_size=1, show_progress=False, shared_context=False
        )
    finally:
        hook.remove()
    assert len(calls) == len(contexts)
    for request, (total, greedy) in zip(requests, shared):
        assert (total, greedy) == pytest.approx(_reference(model, tokenizer, *request), abs=1e-4)


def test_identical_to_lm_eval_hflm(tiny_model_and_tokenizer):
    """Same encoding, sorting, batching and grouping as the harness: bit-identical results."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = tiny_model_and_tokenizer
    requests = _requests(seed=3) + [("", "hello world")]
    ours = loglikelihoods(
        model, tokenizer, requests, batch_size=8, show_progress=False, shared_context=False
    )
    harness = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=8)
    instances = [Instance("loglikelihood", {}, request, 0) for request in requests]
    assert ours == harness.loglikelihood(instances, disable_tqdm=True)


@pytest.fixture(scope="module")
def base_and_lora(tiny_model_and_tokenizer):
    """A fresh tiny model and, separately, the same weights with a random (non-zero) LoRA."""
    from peft import LoraConfig, get_peft_model

    _, tokenizer = tiny_model_and_tokenizer
    base = build_tiny_model(tokenizer)
    torch.manual_seed(1)
    config = LoraConfig(
        r=4,
        lora_alpha=16,
        target_modules=["q_proj", "v_proj"],
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    lora = get_peft_model(build_tiny_model(tokenizer), config).eval()
    return base, lora, tokenizer


def test_lora_adapter_changes_loglikelihoods(base_and_lora):
    base, lora, tokenizer = base_and_lora
    requests = _requests(seed=4, contexts=4)
    with_adapter = loglikelihoods(lora, tokenizer, requests, show_progress=False)
    without = loglikelihoods(base, tokenizer, requests, show_progress=False)
    assert all(a[0] != pytest.approx(b[0], abs=1e-3) for a, b in zip(with_adapter, without))
    with lora.disable_adapter():
        disabled = loglikelihoods(lora, tokenizer, requests, show_progress=False)
    assert [t for t, _ in disabled] == pytest.approx([t for t, _ in without], abs=1e-5)


def test_run_benchmarks_evaluates_the_model_passed(base_and_lora):
    base, lora, tokenizer = base_and_lora
    kwargs = {"names": ["builtin:mc-mini"], "limit": 3, "show_progress": False, "resamples": 100}
    lls_lora = [
        i["loglikelihoods"]
        for i in run_benchmarks(lora, tokenizer, **kwargs)["builtin:mc-mini"]["items"]
    ]
    lls_base = [
        i["loglikelihoods"]
        for i in run_benchmarks(base, tokenizer, **kwargs)["builtin:mc-mini"]["items"]
    ]
    assert lls_lora != lls_base
