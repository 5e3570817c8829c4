"""`qa:PATH`: a user's short-answer file, scored by normalized exact match and token F1.

Spec: `qa:data/qa.jsonl` or `qa:data/qa.jsonl:max_gen_toks=48,extract=Answer:\\s*(.+)`.
Records (JSONL, JSON list or CSV with a header, see user_files): `question`; the references as
`answers` (a list) or `answer` (one text, or a list); optional `context` (text shown before the
question) and `id`.
Options:
- max_gen_toks (default 32): greedy generation length.
- apply_chat_template (default true): the question (after its context and a blank line) is the
  user turn; false: the plain prompt "{context}\n\nQuestion: {question}\nAnswer:".
- primary (default `qa_exact_match`): the metric the verdict uses, `qa_exact_match` or `f1`
  (`exact_match`, its earlier name, still selects `qa_exact_match`).
- extract: a regular expression applied to the output (re.search); the answer is its first
  group that matched, or the whole match without groups; no match scores 0. Without it the
  whole output is the answer. It must come last, as its value runs to the end of the spec (so
  it may hold commas and colons).
Scoring (SQuAD-style, per item the best over the references): both texts are lower-cased,
punctuation removed, the articles a/an/the removed and whitespace collapsed; `qa_exact_match`
is 1 when they are equal; `f1` is the harmonic mean of token precision and recall (two empty
answers count as a match).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks.data import Row
from goaltune.evaluate.benchmarks.registry import (
    Benchmark,
    Loaded,
    RunContext,
    parse_options,
    register,
    split_path,
)
from goaltune.evaluate.benchmarks.results import benchmark_result, summarize
from goaltune.evaluate.benchmarks.user_files import read_records, text_field
from goaltune.evaluate.generation import generate_texts, render_prompts

NAME = "qa"
# `qa_exact_match`, not `exact_match`: SQuAD normalisation is not the task metric's whitespace
# match, and the two should not read as one number in a report.
METRICS = ("qa_exact_match", "f1")
OLD_NAMES = {"exact_match": "qa_exact_match"}  # `primary=` values older configs still use
DEFAULTS: dict[str, Any] = {
    "max_gen_toks": 32,
    "apply_chat_template": True,
    "primary": "qa_exact_match",
}
CHAT_STOP = ["<|im_end|>", "</s>"]
PLAIN_STOP = ["\nQuestion:", "\n\n"]
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_EXTRACT = re.compile(r"(?:^|,)\s*extract=")


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation (any Unicode punctuation), no articles, single spaces."""
    lowered = text.lower()
    no_punctuation = "".join(c for c in lowered if not unicodedata.category(c).startswith("P"))
    return " ".join(_ARTICLES.sub(" ", no_punctuation).split())


def qa_exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalized texts are equal."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the normalized tokens (bag of words); 1.0 when both are empty."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def extract_answer(output: str, pattern: re.Pattern[str] | None) -> str | None:
    """The answer inside the output: the pattern's first matched group (or whole match)."""
    if pattern is None:
        return output.strip()
    match = pattern.search(output)
    if match is None:
        return None
    groups = [g for g in match.groups() if g is not None]
    return (groups[0] if groups else match.group(0)).strip()


def _references(row: Row) -> list[str]:
    key = "answers" if "answers" in row.data else "answer"
    value = row.data.get(key)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        row.fail(
            f"field '{key}' must be a string or a non-empty list of strings (the reference answers)"
        )
    return values


def qa_item(row: Row, number: int, stem: str) -> dict[str, Any]:
    """One item: id, question, optional context and the reference answers."""
    item_id = row.data.get("id", f"{stem}-{number:04d}")
    if not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        row.fail("field 'id' must be a string or an integer")
    return {
        "id": str(item_id),
        "question": text_field(row, "question"),
        "context": text_field(row, "context", required=False),
        "references": _references(row),
    }


def split_extract(options: str | None) -> tuple[str | None, str | None]:
    """(the other options, the extract pattern or None): extract takes the rest of the text."""
    if not options:
        return options, None
    match = _EXTRACT.search(options)
    if match is None:
        return options, None
    return options[: match.start()], options[match.end() :]


def _settings(options: str | None) -> dict[str, Any]:
    others, pattern = split_extract(options)
    settings = parse_options(NAME, others, DEFAULTS)
    settings["primary"] = OLD_NAMES.get(settings["primary"], settings["primary"])
    if settings["primary"] not in METRICS:
        raise BenchmarkError(f"{NAME}: primary must be one of {', '.join(METRICS)}")
    if settings["max_gen_toks"] < 1:
        raise BenchmarkError(f"{NAME}: max_gen_toks must be at least 1")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise BenchmarkError(
                f"{NAME}: extract='{pattern}' is not a valid regular expression ({error})"
            ) from error
    settings["extract"] = pattern
    return settings


def load(options: str | None, data_dir: str | None, limit: int | None) -> Loaded:
    """The file's items (the first `limit`); data_dir does not apply."""
    path, rest = split_path(NAME, options)
    settings = _settings(rest)
    rows = read_records(Path(path))
    items = [qa_item(row, n, path.stem) for n, row in enumerate(rows, 1)]
    return Loaded(items[:limit], str(path), settings)


def prompt_text(item: dict[str, Any], chat: bool) -> str:
    """The question as shown to the model (before any chat template)."""
    context = f"{item['context']}\n\n" if item["context"] else ""
    return (
        f"{context}{item['question']}"
        if chat
        else f"{context}Question: {item['question']}\nAnswer:"
    )


def score(output: str, item: dict[str, Any], pattern: re.Pattern[str] | None) -> dict[str, Any]:
    """The record of one answer: extracted text and the best EM and F1 over the references."""
    answer = extract_answer(output, pattern)
    refs = item["references"]
    metrics = (
        {"qa_exact_match": 0.0, "f1": 0.0}
        if answer is None
        else {
            "qa_exact_match": max(qa_exact_match(answer, r) for r in refs),
            "f1": max(token_f1(answer, r) for r in refs),
        }
    )
    return {"extracted": answer, "target": refs[0], "references": refs, "metrics": metrics}


def run(context: RunContext, loaded: Loaded) -> dict[str, Any]:
    """Generate greedily, extract and score."""
    settings = loaded.settings
    chat = settings["apply_chat_template"]
    texts = [prompt_text(item, chat) for item in loaded.items]
    prompts = (
        render_prompts(context.tokenizer, [[{"role": "user", "content": t}] for t in texts])
        if chat
        else texts
    )
    outputs = generate_texts(
        context.model,
        context.tokenizer,
        prompts,
        settings["max_gen_toks"],
        context.batch_size,
        CHAT_STOP if chat else PLAIN_STOP,
        context.label,
        context.show_progress,
    )
    pattern = re.compile(settings["extract"]) if settings["extract"] is not None else None
    records = [
        {"id": item["id"], "prompt": text, "output": output, **score(output, item, pattern)}
        for item, text, output in zip(loaded.items, texts, outputs)
    ]
    summary = summarize(records, list(METRICS), context.resamples)
    return benchmark_result(settings["primary"], summary, records, loaded.source, settings)


register(Benchmark(NAME, load, run))
