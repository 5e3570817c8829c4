"""Our greedy decoding (rows leave the batch at EOS) gives exactly what HF `generate` gives."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import torch

from goaltune.evaluate.generation import generate_texts, render_prompts
from tests.conftest import build_tiny_model

PROMPTS = [
    "Which gas do plants take in?",
    "Write a short note to a neighbour.",
    "Janet has 16 eggs per day and sells the rest for $2 each. How much does she make?",
    "A man is sitting on a roof.",
    "The quick brown fox",
]


def hf_greedy(model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Reference: one prompt at a time through `generate` (no padding at all)."""
    texts = []
    for prompt in prompts:
        encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        out = model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        new = out[0, encoded["input_ids"].shape[1] :]
        texts.append(tokenizer.decode(new, skip_special_tokens=True))
    return texts


@pytest.fixture()
def model_with_common_eos(tiny_model_and_tokenizer: Any) -> Any:
    """A tiny model whose EOS logit copies (and beats) that of a token it often emits,
    so rows finish at different steps."""
    _, tokenizer = tiny_model_and_tokenizer
    model = build_tiny_model(tokenizer, seed=1)
    prompts = render_prompts(tokenizer, [[{"role": "user", "content": p}] for p in PROMPTS])
    with torch.no_grad():
        drafts = [
            model.generate(
                **tokenizer(p, return_tensors="pt", add_special_tokens=False),
                max_new_tokens=12,
                do_sample=False,
                eos_token_id=None,
                pad_token_id=tokenizer.pad_token_id,
            )[0, -12:].tolist()
            for p in prompts
        ]
        counts = Counter(t for draft in drafts for t in draft[1:])
        common = counts.most_common(1)[0][0]
        model.lm_head.weight[tokenizer.eos_token_id] = model.lm_head.weight[common] * 1.5
    return model, tokenizer, prompts


def test_greedy_matches_generate_when_rows_finish_early(
    model_with_common_eos: Any, one_torch_thread: Any
) -> None:
    model, tokenizer, prompts = model_with_common_eos
    expected = hf_greedy(model, tokenizer, prompts, max_new_tokens=12)
    got = generate_texts(
        model, tokenizer, prompts, max_new_tokens=12, batch_size=8, show_progress=False
    )
    assert got == expected
    assert len({len(text) for text in got}) > 1  # rows really stopped at different steps


def test_stop_sequence_cuts_and_stops(tiny_model_and_tokenizer: Any, one_torch_thread: Any) -> None:
    model, tokenizer = tiny_model_and_tokenizer
    prompts = render_prompts(tokenizer, [[{"role": "user", "content": p}] for p in PROMPTS])
    full = generate_texts(
        model, tokenizer, prompts, max_new_tokens=16, batch_size=8, show_progress=False
    )
    stop = full[0][3:6]
    assert stop.strip(), "the draft output is too short to pick a stop sequence from"
    cut = generate_texts(
        model, tokenizer, prompts, max_new_tokens=16, batch_size=8, stop=[stop], show_progress=False
    )
    for whole, short in zip(full, cut):
        assert stop not in short
        assert whole.startswith(short)
        assert short == (whole[: whole.find(stop)] if stop in whole else whole)
