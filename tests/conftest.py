"""Shared pytest fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURE_RUN = Path(__file__).parent / "fixtures" / "run_folder.json"


def copy_fixture_run(target: Path) -> Path:
    """Write the finished example run folder kept in tests/fixtures/run_folder.json at `target`."""
    for name, text in json.loads(FIXTURE_RUN.read_text()).items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return target


TINY_CORPUS = [
    "Question: Which gas do plants take in from the air to make their food?\nAnswer: carbon dioxide",
    "The quick brown fox jumps over the lazy dog. Dr. Smith lives in the U.S. with his family.",
    "Write a short note to a neighbour. Do not use any commas in your response.",
    "Janet has 16 eggs per day. She eats three and sells the rest for $2 each. #### 26",
    "The following are multiple choice questions (with answers) about global facts.",
    "A. one\nB. two\nC. three\nD. four\nAnswer: B or A or C or D",
    "A man is sitting on a roof. He starts pulling up roofing on a roof.",
]
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_tokenizer() -> Any:
    """A byte-level BPE tokenizer (~400 tokens) trained on a few sentences, with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(TINY_CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    return tokenizer


def build_tiny_model(tokenizer: Any, seed: int = 0) -> Any:
    """A randomly initialised 2-layer Llama (hidden size 32) for the tokenizer's vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="session")
def tiny_model_and_tokenizer() -> tuple[Any, Any]:
    """(model, tokenizer): a tiny random Llama and a tiny BPE tokenizer with a chat template."""
    tokenizer = build_tiny_tokenizer()
    return build_tiny_model(tokenizer), tokenizer


@pytest.fixture(scope="module")
def one_torch_thread() -> Any:
    """Tiny models run much faster on one thread, above all on a shared, busy CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
