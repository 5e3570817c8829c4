"""Batched greedy generation: length-sorted batches, left padding, KV cache, stop sequences."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def render_prompts(tokenizer: Any, conversations: list[list[dict[str, str]]]) -> list[str]:
    """Apply the chat template with the generation prompt to each conversation."""
    return [
        tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        for messages in conversations
    ]


def _cut_at_stop(text: str, stop: list[str]) -> str:
    cut = min((text.find(s) for s in stop if s and s in text), default=-1)
    return text if cut < 0 else text[:cut]


def progress_bar(label: str) -> Progress:
    """The rich progress bar used by evaluation loops."""
    return Progress(
        TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    )


@torch.no_grad()
def generate_texts(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    max_new_tokens: int = 256,
    batch_size: int = 16,
    stop: list[str] | None = None,
    label: str = "generate",
    show_progress: bool = True,
) -> list[str]:
    """Greedy completions of already-rendered prompts, returned in the input order.

    Prompts are sorted by length so each batch carries little padding; every sequence stops at
    EOS (the cache is kept per batch) and is cut at the first stop sequence.
    """
    model.eval()
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
    outputs: list[str] = [""] * len(prompts)
    progress = progress_bar(label) if show_progress else None
    task = progress.add_task(label, total=len(prompts)) if progress else None
    with progress or nullcontext():
        for start in range(0, len(order), batch_size):
            batch_ids = order[start : start + batch_size]
            encoded = tokenizer(
                [prompts[i] for i in batch_ids], return_tensors="pt", padding=True,
                add_special_tokens=False,
            ).to(device)
            generated = model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                stop_strings=stop or None,
                tokenizer=tokenizer if stop else None,
            )
            new_tokens = generated[:, encoded["input_ids"].shape[1] :]
            for row, index in enumerate(batch_ids):
                text = tokenizer.decode(new_tokens[row], skip_special_tokens=True)
                outputs[index] = _cut_at_stop(text, stop or [])
            if progress is not None:
                progress.update(task, advance=len(batch_ids))
    return outputs

