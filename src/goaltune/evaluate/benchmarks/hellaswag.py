"""HellaSwag validation, as the harness task `hellaswag`.

Data: Hub `Rowan/hellaswag` (split validation), or a data_dir with `hellaswag_val.jsonl` in the
original rowanz/hellaswag format (`ind`, `activity_label`, `ctx_a`, `ctx_b`, `endings`, `label`),
optionally under `hellaswag/`.
Prompt (the harness's process_docs): query = preprocess(activity_label + ": " + ctx_a + " " +
ctx_b.capitalize()), each preprocessed ending scored as " {ending}"; metrics acc, acc_norm.
"""

from __future__ import annotations

import re
from typing import Any

from goaltune.evaluate.benchmarks.data import Row, load_rows
from goaltune.evaluate.benchmarks.multiple_choice import ChoiceItem, choice_runner
from goaltune.evaluate.benchmarks.registry import Benchmark, Loaded, parse_options, register


def preprocess(text: str) -> str:
    """The harness's cleanup: strip, WikiHow "[title]" to ". ", drop [brackets], fix spaces."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def _label(row: Row, count: int) -> int:
    label: Any = row.data.get("label")
    try:
        gold = int(label)
    except (TypeError, ValueError):
        row.fail(f"field 'label' must be an integer choice index, got {label!r}")
    if not 0 <= gold < count:
        row.fail(f"label {gold} is out of range for {count} endings")
    return gold


def hellaswag_item(row: Row) -> ChoiceItem:
    """A ChoiceItem from a row in the original (or Hub) HellaSwag layout."""
    context = row.get("ctx_a", str) + " " + row.get("ctx_b", str).capitalize()
    endings = row.strings("endings")
    ind = row.data.get("ind")
    if ind is None:
        row.fail("field 'ind' is missing")
    return ChoiceItem(
        id=f"hellaswag-{ind}",
        context=preprocess(row.get("activity_label", str) + ": " + context),
        choices=[preprocess(ending) for ending in endings],
        gold=_label(row, len(endings)),
    )


def load(options: str | None, data_dir: str | None, limit: int | None) -> Loaded:
    """Validation items (all, or the first `limit`)."""
    parse_options("hellaswag", options, {})
    rows, source = load_rows(
        data_dir, "hellaswag", "hellaswag_val.jsonl", ("Rowan/hellaswag", None, "validation")
    )
    return Loaded([hellaswag_item(row) for row in rows][:limit], source)


register(Benchmark("hellaswag", load, choice_runner("acc_norm")))
