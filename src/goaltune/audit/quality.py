"""Data quality: token lengths and truncation, empty answers, the most common answer, labels."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from goaltune.audit.text import Entry, exact_key
from goaltune.config import DataConfig, TrainConfig
from goaltune.data.encoding import encode_example
from goaltune.data.formats import Example
from goaltune.run_folder.schema import CompletionStats, LengthStats

MAX_LABELS = 20  # more distinct values than this is free text, not a label
EMPTY_EXAMPLES = 10  # ids of empty answers kept in audit.json
ANSWER_CHARS = 200  # the most common answer is shown cut to this length


def token_lengths(
    examples: list[Example], tokenizer: Any, data: DataConfig, train: TrainConfig
) -> LengthStats:
    """Each example's length with the chat template, before truncation, and how many were cut."""
    lengths = [len(encode_example(e, tokenizer, data.train_on).input_ids) for e in examples]
    stats = LengthStats(
        count=len(lengths), max_seq_length=train.max_seq_length, cut_by=data.truncation
    )
    if lengths:
        stats.min, stats.max = min(lengths), max(lengths)
        stats.median = float(np.median(lengths))
        stats.p95 = float(np.percentile(lengths, 95))
        stats.over_max = sum(1 for n in lengths if n > train.max_seq_length)
    return stats


def answer_stats(entries: list[Entry]) -> CompletionStats | None:
    """Empty answers and the share of the most common one (what always answering it scores)."""
    answers = [(entry.id, entry.answer) for entry in entries if entry.answer is not None]
    if not answers:
        return None
    empty = [entry_id for entry_id, answer in answers if not answer.strip()]
    counts = Counter(exact_key(answer) for _, answer in answers)
    top, top_count = counts.most_common(1)[0]
    return CompletionStats(
        count=len(answers),
        empty=len(empty),
        empty_items=empty[:EMPTY_EXAMPLES],
        most_common=top[:ANSWER_CHARS],
        most_common_share=round(top_count / len(answers), 4),
    )


def _categorical(values: list[Any]) -> dict[str, int] | None:
    """Counts of values that look like labels: few distinct ones, each repeated on average."""
    if not values or not all(isinstance(v, str | int | bool) for v in values):
        return None
    counts = Counter(str(v) for v in values)
    if len(counts) > MAX_LABELS or len(counts) * 2 > len(values):
        return None
    return dict(counts.most_common())


def label_distribution(examples: list[Example], entries: list[Entry]) -> dict[str, dict[str, int]]:
    """Label counts of the answers and of the extra fields that look categorical."""
    labels = {}
    answers = _categorical([e.answer.strip() for e in entries if e.answer is not None])
    if answers:
        labels["completion"] = answers
    fields = dict.fromkeys(key for example in examples for key in example.extra)
    for field in fields:
        values = [e.extra[field] for e in examples if field in e.extra]
        if len(values) * 2 < len(examples):  # a field most examples lack is no label
            continue
        counts = _categorical(values)
        if counts:
            labels[field] = counts
    return labels
