"""Texts the audit compares: prompts, answers and their normalised forms, shingles and n-grams."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from goaltune.data.formats import Example

SHINGLE_CHARS = 5  # character shingles: one changed word moves only a few of a prompt's shingles
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Entry:
    """One example or item as the audit sees it: an id, its prompt and its answer."""

    id: str
    prompt: str
    answer: str | None  # None for plain-text examples and items without a reference


def exact_key(text: str) -> str:
    """The text with case and whitespace normalised: what an exact match compares."""
    return _SPACE.sub(" ", text.lower()).strip()


def words(text: str) -> list[str]:
    """Lowercased words without punctuation, as lm-eval's decontamination Janitor splits text."""
    return _SPACE.sub(" ", _NON_WORD.sub(" ", text.lower())).split()


def shingles(text: str) -> set[str]:
    """Character shingles of the text without punctuation and case (its near-duplicate key)."""
    flat = " ".join(words(text))
    if len(flat) <= SHINGLE_CHARS:
        return {flat} if flat else set()
    return {flat[i : i + SHINGLE_CHARS] for i in range(len(flat) - SHINGLE_CHARS + 1)}


def jaccard(left: set[str], right: set[str]) -> float:
    """|A & B| / |A | B|, 0 for two empty sets."""
    union = len(left | right)
    return len(left & right) / union if union else 0.0


def _turns(messages: list[dict[str, str]]) -> tuple[str, str | None]:
    """The conversation before the last assistant turn, and that turn (system prompts left out:
    a shared system prompt would make every pair of examples look alike)."""
    turns = [m for m in messages if m["role"] != "system"]
    answer = None
    if turns and turns[-1]["role"] == "assistant":
        answer, turns = turns[-1]["content"], turns[:-1]
    return "\n".join(m["content"] for m in turns), answer


def example_entry(example: Example, index: int, prefix: str) -> Entry:
    """A training or validation example; its id is where it came from."""
    where = str(example.location) if example.location else f"{prefix} example {index}"
    if example.text is not None:
        return Entry(where, example.text, None)
    prompt, answer = _turns(example.messages)
    return Entry(where, prompt, answer)


def item_entry(item: dict[str, Any]) -> Entry:
    """A held-out task item (from load_task_items): its id, prompt turns and reference."""
    prompt, _ = _turns(item["messages"])
    reference = item.get("reference")
    return Entry(str(item["id"]), prompt, reference if isinstance(reference, str) else None)


def full_text(entry: Entry) -> str:
    """Prompt and answer together: the text a model trains on."""
    return f"{entry.prompt}\n{entry.answer}" if entry.answer else entry.prompt
