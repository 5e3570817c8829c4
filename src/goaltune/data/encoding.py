"""Apply the chat template, build labels (completion-only by default), truncate, and batch."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from goaltune.data.formats import Example
from goaltune.errors import DataError

IGNORE_INDEX = -100


@dataclass
class Encoded:
    """Token ids and labels of one example (labels are IGNORE_INDEX where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]

    @property
    def supervised_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class EncodeStats:
    """What happened to the examples while encoding: kept, truncated, dropped and why."""

    kept: int = 0
    truncated: int = 0
    dropped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "truncated": self.truncated, "dropped": dict(self.dropped)}


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt
    )


def assistant_spans(
    tokenizer: Any, messages: list[dict[str, str]]
) -> tuple[str, list[tuple[int, int]]]:
    """Render a conversation and return the character spans of each assistant reply.

    A span runs from the end of the generation prompt before the reply through its end-of-turn
    token, so the model learns to stop.
    """
    full = _render(tokenizer, messages, generation_prompt=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = _render(tokenizer, messages[:index], generation_prompt=True)
        upto = _render(tokenizer, messages[: index + 1], generation_prompt=False)
        if not full.startswith(upto) or not upto.startswith(prefix):
            raise DataError("the chat template does not render conversations incrementally")
        spans.append((len(prefix), _reply_end(upto, len(prefix), tokenizer.eos_token)))
    return full, spans


def _reply_end(rendered: str, start: int, eos_token: str | None) -> int:
    """End of a reply: just after its end-of-turn token, leaving the template's trailing newline."""
    if eos_token:
        position = rendered.rfind(eos_token, start)
        if position >= 0:
            return position + len(eos_token)
    return len(rendered)


def _labels_from_spans(
    offsets: list[tuple[int, int]], ids: list[int], spans: list[tuple[int, int]]
) -> list[int]:
    labels = []
    for token_id, (start, end) in zip(ids, offsets):
        inside = any(start >= s and end <= e and end > start for s, e in spans)
        labels.append(token_id if inside else IGNORE_INDEX)
    return labels


def encode_example(example: Example, tokenizer: Any, train_on: str = "completions") -> Encoded:
    """Tokenize one example with the chat template; loss on assistant tokens unless train_on=all."""
    if example.text is not None:
        text = example.text + (tokenizer.eos_token or "")
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
        return Encoded(ids, list(ids))
    if not any(m["role"] == "assistant" for m in example.messages):
        raise DataError(f"{example.location}: no assistant message to learn from")
    text, spans = assistant_spans(tokenizer, example.messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    if train_on == "all":
        return Encoded(ids, list(ids))
    return Encoded(ids, _labels_from_spans(encoded["offset_mapping"], ids, spans))


def encode_dataset(
    examples: list[Example],
    tokenizer: Any,
    max_seq_length: int,
    train_on: str = "completions",
    truncation: str = "truncate",
) -> tuple[list[Encoded], EncodeStats]:
    """Encode all examples, truncating (or dropping) those longer than max_seq_length."""
    stats = EncodeStats()
    kept = []
    for example in examples:
        encoded = encode_example(example, tokenizer, train_on)
        if len(encoded.input_ids) > max_seq_length:
            if truncation == "drop":
                stats.dropped["longer than max_seq_length"] += 1
                continue
            encoded = Encoded(encoded.input_ids[:max_seq_length], encoded.labels[:max_seq_length])
            stats.truncated += 1
        if encoded.supervised_tokens == 0:
            stats.dropped["no supervised tokens left after truncation"] += 1
            continue
        kept.append(encoded)
    stats.kept = len(kept)
    if not kept:
        reasons = ", ".join(f"{n} {why}" for why, n in stats.dropped.items())
        raise DataError(
            f"{_source(examples)}: no usable training examples: all {len(examples)} were dropped "
            f"under data.truncation={truncation} ({reasons}; {stats.truncated} truncated); "
            f"raise train.max_seq_length (now {max_seq_length}) or shorten the data"
        )
    return kept, stats


def _source(examples: list[Example]) -> str:
    """The data source the examples came from, for error messages."""
    location = examples[0].location if examples else None
    return location.source if location else "data"


def split_examples(
    examples: list[Example], validation_split: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """A seeded train/validation split; the validation share must leave training data."""
    if validation_split <= 0:
        return examples, []
    count = max(round(len(examples) * validation_split), 1)
    if count >= len(examples):
        raise DataError(
            f"{_source(examples)}: data.validation_split={validation_split} takes {count} of the "
            f"{len(examples)} examples and leaves no training data; lower it or add data"
        )
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    validation = set(order[:count])
    train = [e for i, e in enumerate(examples) if i not in validation]
    return train, [e for i, e in enumerate(examples) if i in validation]


def make_batches(
    encoded: list[Encoded], batch_size: int, seed: int, length_bucketing: bool = True
) -> list[list[int]]:
    """Index batches for one epoch: shuffled; with bucketing, similar lengths share a batch.

    Bucketing sorts within windows of 50 batches, then shuffles the batches, so little compute
    goes to padding while the order stays random.
    """
    rng = random.Random(seed)
    order = list(range(len(encoded)))
    rng.shuffle(order)
    if length_bucketing:
        window = batch_size * 50
        order = [
            i
            for start in range(0, len(order), window)
            for i in sorted(order[start : start + window], key=lambda j: len(encoded[j].input_ids))
        ]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if length_bucketing:
        rng.shuffle(batches)
    return batches


def pack_rows(items: list[Encoded]) -> list[list[int]]:
    """Indices of `items` per row: first fit by decreasing length into rows as wide as the
    longest item, so no row is wider, and there are no more rows, than in the padded batch."""
    width = max(len(item.input_ids) for item in items)
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(items)), key=lambda i: -len(items[i].input_ids)):
        length = len(items[index].input_ids)
        row = next((r for r, free in enumerate(room) if free >= length), len(rows))
        if row == len(rows):
            rows.append([])
            room.append(width)
        rows[row].append(index)
        room[row] -= length
    return rows


def collate_packed(items: list[Encoded], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Pack a training batch into few rows: input_ids, labels and position_ids, no attention mask.

    Position ids restart at 0 with every example; from them Transformers builds an attention
    mask that keeps the examples of a row apart (attention_mask must be absent for that). An
    example's first token gets no label, as in its own row, where nothing predicts it. The
    padding that is left at a row's end is a sequence of its own, with no labels.
    """
    rows = pack_rows(items)
    width = max(len(item.input_ids) for item in items)
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for row, members in enumerate(rows):
        start = 0
        for index in members:
            item, end = items[index], start + len(items[index].input_ids)
            input_ids[row, start:end] = torch.tensor(item.input_ids)
            labels[row, start + 1 : end] = torch.tensor(item.labels[1:])
            positions[row, start:end] = torch.arange(end - start)
            start = end
        positions[row, start:] = torch.arange(width - start)
    return {"input_ids": input_ids, "labels": labels, "position_ids": positions}


def collate(
    items: list[Encoded], pad_token_id: int, packed: bool = False
) -> dict[str, torch.Tensor]:
    """Right-pad a training batch into input_ids, attention_mask and labels tensors
    (with `packed`, `collate_packed`'s rows instead)."""
    if packed:
        return collate_packed(items, pad_token_id)
    width = max(len(item.input_ids) for item in items)
    input_ids = torch.full((len(items), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(items), width), dtype=torch.long)
    for row, item in enumerate(items):
        length = len(item.input_ids)
        input_ids[row, :length] = torch.tensor(item.input_ids)
        labels[row, :length] = torch.tensor(item.labels)
        attention[row, :length] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
