"""Prompt-lookup decoding (eval.prompt_lookup): greedy's outputs in fewer forward passes."""

from typing import Any

import pytest

from goaltune.evaluate.generation import draft, generate_texts, prompt_lookup
from tests.conftest import TINY_CORPUS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_draft_copies_what_followed_the_latest_longest_match() -> None:
    assert draft([1, 2, 3, 9, 9, 1, 2, 3], 2) == [9, 9]
    assert draft([5, 2, 3, 7, 1, 2, 3, 8, 4, 2, 3], 3) == [8, 4, 2]  # latest occurrence
    assert draft([4, 3, 6, 1, 2, 3, 7, 2, 3], 1) == [7]  # "2 3" beats a later lone "3"
    assert draft([1, 2, 3, 4], 3) == []


def counted(model: Any) -> tuple[list[int], Any]:
    """A list that gets an entry per forward pass of `model`, and the hook's handle."""
    calls: list[int] = []
    return calls, model.register_forward_hook(lambda module, args, out: calls.append(1))


def generate(model: Any, tokenizer: Any, prompts: list[str], lookup: int, **options: Any) -> Any:
    settings = {"max_new_tokens": 24, "batch_size": 4, "show_progress": False, **options}
    with prompt_lookup(lookup):
        return generate_texts(model, tokenizer, prompts, **settings)


@pytest.mark.parametrize("stop", [None, ["DK"], ["c"]])
def test_outputs_are_greedy_over_a_left_padded_batch(tiny_model_and_tokenizer, stop) -> None:
    """Prompts of different lengths; with stop sequences rows leave the batch at different steps."""
    model, tokenizer = tiny_model_and_tokenizer
    greedy = generate(model, tokenizer, TINY_CORPUS, 0, stop=stop)
    assert any(greedy)
    for lookup in (1, 4):
        assert generate(model, tokenizer, TINY_CORPUS, lookup, stop=stop) == greedy


def test_answers_that_copy_the_prompt_take_fewer_passes(tiny_model_and_tokenizer) -> None:
    """Each prompt holds its own greedy answer once already, as extraction answers hold the
    request's names and values; one row per batch, so a saved pass is a saved step."""
    model, tokenizer = tiny_model_and_tokenizer
    answers = generate(model, tokenizer, TINY_CORPUS, 0, max_new_tokens=16, batch_size=1)
    prompts = [p + a + "\n" + p for p, a in zip(TINY_CORPUS, answers)]
    calls, hook = counted(model)
    greedy = generate(model, tokenizer, prompts, 0, max_new_tokens=16, batch_size=1)
    plain_passes = len(calls)
    calls.clear()
    fast = generate(model, tokenizer, prompts, 4, max_new_tokens=16, batch_size=1)
    hook.remove()
    assert fast == greedy
    assert len(calls) < plain_passes
