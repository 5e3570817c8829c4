"""Benchmark contamination: benchmark items whose word n-grams occur in the training data.

As lm-evaluation-harness's decontamination: text lowercased without punctuation, split into
words, and an item counts as contaminated when any of its n-grams (13 words by default) occurs
in a training example. Items shorter than n words (many short questions) would never match that
way, so they count when all their words occur in a row in one training example, provided they
have at least MIN_SHORT_WORDS words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from goaltune.audit.text import Entry, full_text, words
from goaltune.errors import GoaltuneError
from goaltune.evaluate.benchmarks.ifeval import IfevalItem
from goaltune.evaluate.benchmarks.multiple_choice import ChoiceItem
from goaltune.run_folder.schema import Contamination

MIN_SHORT_WORDS = 4  # shorter items (a label, a two-word question) occur in too much text
_SCAFFOLD = re.compile(r"^\s*Question:\s*|\s*Answer:\s*$")  # the ARC-style prompt around a question


@dataclass(frozen=True)
class TrainNgrams:
    """The training examples' word n-grams (hashed) and their word sequences for short items."""

    n: int
    grams: set[int]
    joined: str  # one line per example, so a short item never matches across two examples

    def contains(self, text: str) -> bool:
        tokens = words(text)
        if len(tokens) >= self.n:
            return any(gram in self.grams for gram in _grams(tokens, self.n))
        return len(tokens) >= MIN_SHORT_WORDS and f" {' '.join(tokens)} " in self.joined


def train_ngrams(entries: list[Entry], n: int) -> TrainNgrams:
    """Index the training examples (prompt and answer) for contamination checks."""
    grams: set[int] = set()
    lines = []
    for entry in entries:
        tokens = words(full_text(entry))
        grams.update(_grams(tokens, n))
        lines.append(f" {' '.join(tokens)} ")
    return TrainNgrams(n, grams, "\n".join(lines))


def _grams(tokens: list[str], n: int) -> set[int]:
    return {hash(tuple(tokens[i : i + n])) for i in range(len(tokens) - n + 1)}


def query_text(item: Any) -> tuple[str, str] | None:
    """(id, the text checked) of a benchmark item: its question or prompt, without scaffolding."""
    if isinstance(item, tuple) and item:  # gsm8k: (item, its few-shot examples)
        item = item[0]
    if isinstance(item, ChoiceItem):
        return item.id, _SCAFFOLD.sub("", item.context)
    if isinstance(item, IfevalItem):
        return str(item.key), item.prompt
    question = getattr(item, "question", None)  # gsm8k
    if isinstance(question, str):
        return str(getattr(item, "id", "")), question
    if isinstance(item, dict):
        text = item.get("question") or item.get("prompt")  # qa:PATH, code:PATH
        if isinstance(text, str):
            return str(item.get("id") or item.get("task_id") or ""), text
    return None


def check_benchmark(spec: str, items: list[Any], train: TrainNgrams) -> Contamination:
    """The contaminated items of one benchmark's loaded items."""
    if not items:
        return Contamination(skipped="the benchmark lists no items without running a model")
    queries = [query_text(item) for item in items]
    readable = [query for query in queries if query is not None]
    if len(readable) < len(queries):
        kind = type(items[queries.index(None)]).__name__
        return Contamination(skipped=f"its items ({kind}) carry no prompt text the audit reads")
    hits = [
        item_id or f"{spec}-{number}"
        for number, (item_id, text) in enumerate(readable, 1)
        if train.contains(text)
    ]
    return Contamination(
        checked=len(items),
        contaminated=len(hits),
        share=round(len(hits) / len(items), 4),
        items=hits,
    )


def benchmark_contamination(
    specs: list[str], data_dir: str | None, limit: int | None, train: TrainNgrams
) -> dict[str, Contamination]:
    """Per benchmark spec of the run, its contaminated items, or why it could not be checked."""
    from goaltune.evaluate.benchmarks import join_specs, load_benchmark

    found = {}
    for spec in join_specs(specs):
        try:
            loaded = load_benchmark(spec, data_dir, limit)
        except GoaltuneError as error:  # offline Hub, code not allowed to run, a bad file
            found[spec] = Contamination(skipped=f"its items could not be loaded ({error})")
            continue
        found[spec] = check_benchmark(spec, loaded.items, train)
    return found
