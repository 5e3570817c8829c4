"""builtin:mc-mini, goaltune's small multiple-choice suite, scored like ARC.

Data: package file builtin_data/mc_mini.jsonl in the ai2_arc Hub row layout plus a `subject`
field. Prompt "Question: {question}\nAnswer:", choices " {text}"; metrics acc, acc_norm.
"""

from __future__ import annotations

from dataclasses import replace

from goaltune.evaluate.benchmarks.arc import arc_item
from goaltune.evaluate.benchmarks.data import builtin_rows
from goaltune.evaluate.benchmarks.multiple_choice import choice_runner
from goaltune.evaluate.benchmarks.registry import Benchmark, Loaded, parse_options, register

NAME = "builtin:mc-mini"


def load(options: str | None, data_dir: str | None, limit: int | None) -> Loaded:
    """The shipped items (data_dir does not apply)."""
    parse_options(NAME, options, {})
    rows, source = builtin_rows("mc_mini.jsonl")
    items = [replace(arc_item(row), subject=row.get("subject", str)) for row in rows]
    return Loaded(items[:limit], source)


register(Benchmark(NAME, load, choice_runner("acc")))
