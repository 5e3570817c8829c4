"""ARC-Easy and ARC-Challenge, as the harness tasks `arc_easy` / `arc_challenge`.

Data: Hub `allenai/ai2_arc` (configs ARC-Easy / ARC-Challenge, split test), or a data_dir with
`ARC-Easy-test.jsonl` / `ARC-Challenge-test.jsonl` in the Hub row layout (`id`, `question`,
`choices` {`text`, `label`}, `answerKey`), optionally under `arc/`.
Prompt: "Question: {question}\nAnswer:", each choice scored as " {text}"; metrics acc, acc_norm.
"""

from __future__ import annotations

from goaltune.evaluate.benchmarks.data import Row, load_rows
from goaltune.evaluate.benchmarks.multiple_choice import ChoiceItem, choice_runner
from goaltune.evaluate.benchmarks.registry import (
    Benchmark,
    Loaded,
    Loader,
    parse_options,
    register,
)


def arc_item(row: Row) -> ChoiceItem:
    """A ChoiceItem from a row in the ai2_arc Hub layout."""
    choices = row.get("choices", dict)
    texts = row.strings("choices.text", choices.get("text"))
    labels = row.strings("choices.label", choices.get("label"))
    if len(texts) != len(labels) or len(texts) < 2:
        row.fail("choices.text and choices.label must be lists of the same length (2 or more)")
    answer = row.get("answerKey", str)
    if answer not in labels:
        row.fail(f"answerKey '{answer}' is not one of the labels {labels}")
    question = row.get("question", str)
    return ChoiceItem(
        id=row.get("id", str),
        context=f"Question: {question}\nAnswer:",
        choices=texts,
        gold=labels.index(answer),
        labels=labels,
    )


def _loader(name: str, config: str) -> Loader:
    def load(options: str | None, data_dir: str | None, limit: int | None) -> Loaded:
        parse_options(name, options, {})
        rows, source = load_rows(
            data_dir, "arc", f"{config}-test.jsonl", ("allenai/ai2_arc", config, "test")
        )
        return Loaded([arc_item(row) for row in rows][:limit], source)

    return load


register(Benchmark("arc_easy", _loader("arc_easy", "ARC-Easy"), choice_runner("acc")))
register(
    Benchmark("arc_challenge", _loader("arc_challenge", "ARC-Challenge"), choice_runner("acc_norm"))
)
