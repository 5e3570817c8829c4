"""Shared pytest fixtures and the helpers that several test modules use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

FIXTURE_RUN = Path(__file__).parent / "fixtures" / "run_folder.json"


def copy_fixture_run(target: Path) -> Path:
    """Write the finished example run folder kept in tests/fixtures/run_folder.json at `target`."""
    for name, text in json.loads(FIXTURE_RUN.read_text()).items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return target


TINY_CORPUS = [
    "Question: Which gas do plants take in from the air to make their food?\n"
    "Answer: carbon dioxide",
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


@pytest.fixture
def tiny_model_dir(tmp_path: Path, tiny_model_and_tokenizer: tuple[Any, Any]) -> Path:
    """The tiny model and tokenizer saved as a local folder (what `model.name_or_path` names)."""
    _, tokenizer = tiny_model_and_tokenizer
    folder = tmp_path / "tiny-model"
    build_tiny_model(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_config(tmp_path: Path, model_dir: Path, **extra: object) -> Path:
    """A tiny run config (24 train rows, 6 test items, 6 steps) in `tmp_path`; `extra` adds keys."""
    rows = [{"prompt": f"Question: {i}", "completion": f"Answer: {i}"} for i in range(24)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tests = [
        {"id": f"t{i}", "prompt": f"Question: {i}", "completion": f"Answer: {i}"} for i in range(6)
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tests))
    config = {
        "name": "tiny",
        "output_dir": str(tmp_path / "runs"),
        "model": {"name_or_path": str(model_dir)},
        "data": {
            "train": str(tmp_path / "train.jsonl"),
            "test": str(tmp_path / "test.jsonl"),
            "validation_split": 0.25,
        },
        "lora": {"r": 4, "lora_alpha": 8},
        "train": {
            "max_steps": 6,
            "per_device_train_batch_size": 4,
            "learning_rate": 1e-2,
            "eval_steps": 3,
            "bf16": False,
        },
        "eval": {
            "metrics": ["exact_match", "contains"],
            "max_new_tokens": 8,
            "bootstrap_resamples": 100,
        },
        "goal": {"purpose": "behavior", "task_metrics": ["exact_match"]},
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def train_tiny_run(folder: Path, tokenizer: Any) -> Path:
    """Train the tiny config for a few steps with `goaltune train`; return the run."""
    from typer.testing import CliRunner

    from goaltune.cli import app

    model_dir = folder / "tiny-model"
    build_tiny_model(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    result = CliRunner().invoke(app, ["train", str(write_config(folder, model_dir)), "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = (folder / "runs").iterdir()
    return run_dir


def goaltune(*args: str) -> subprocess.Popen:
    """Start `python -m goaltune ARGS` in its own process (for signals), output in `stdout`."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "goaltune", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def only_run(folder: Path) -> Path:
    """The one run folder in `folder`."""
    (run_dir,) = [p for p in folder.iterdir() if p.is_dir()]
    return run_dir


def tiny_examples(n: int = 24) -> list[Any]:
    """`n` one-turn chat examples ("Question: i + 1" -> "Answer: i+1")."""
    from goaltune.data.formats import Example

    return [
        Example(
            messages=[
                {"role": "user", "content": f"Question: {i} + 1"},
                {"role": "assistant", "content": f"Answer: {i + 1}"},
            ]
        )
        for i in range(n)
    ]


def lora(model: Any, r: int = 4) -> Any:
    """`model` with a LoRA adapter (rank `r`, alpha 8) attached."""
    from goaltune.adapters import build_lora_model
    from goaltune.config import LoraConfig

    return build_lora_model(model, LoraConfig(r=r, lora_alpha=8))
