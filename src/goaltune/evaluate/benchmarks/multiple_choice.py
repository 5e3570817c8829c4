"""Log-likelihood multiple choice, scored as lm-evaluation-harness's `multiple_choice` tasks.

Every choice is scored as the continuation `" " + choice` of the item's context (target delimiter
" ", zero-shot, no chat template). `acc`: the choice with the highest log-likelihood is the gold
one. `acc_norm`: the same after dividing each log-likelihood by the choice's length in characters
(`len(choice)`, as the harness's `completion_len`). Ties go to the first choice (numpy argmax).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from goaltune.evaluate.benchmarks.registry import Loaded, RunContext
from goaltune.evaluate.benchmarks.results import benchmark_result, summarize
from goaltune.evaluate.loglikelihood import loglikelihoods

TARGET_DELIMITER = " "


@dataclass(frozen=True)
class ChoiceItem:
    """A question: the scored context, its choices, the gold index and optional display labels."""

    id: str
    context: str
    choices: list[str]
    gold: int
    labels: list[str] | None = None
    subject: str | None = None

    def display(self, index: int) -> str:
        """The label of a choice (e.g. "B"), or its text when the item has no labels."""
        return self.labels[index] if self.labels else self.choices[index]


def predictions(item: ChoiceItem, lls: list[float]) -> tuple[int, int]:
    """(argmax of log-likelihoods, argmax of log-likelihoods per character)."""
    lengths = np.array([float(len(choice)) for choice in item.choices])
    return int(np.argmax(lls)), int(np.argmax(np.array(lls) / lengths))


def _record(item: ChoiceItem, lls: list[float], metrics: tuple[str, ...]) -> dict[str, Any]:
    pred, pred_norm = predictions(item, lls)
    values = {"acc": float(pred == item.gold), "acc_norm": float(pred_norm == item.gold)}
    record = {
        "id": item.id,
        "prompt": item.context,
        "output": item.display(pred),
        "target": item.display(item.gold),
        "metrics": {metric: values[metric] for metric in metrics},
        "loglikelihoods": lls,
    }
    if "acc_norm" in metrics:
        record["output_norm"] = item.display(pred_norm)
    if item.subject is not None:
        record["subject"] = item.subject
    return record


def score_choice_items(
    context: RunContext, items: list[ChoiceItem], metrics: tuple[str, ...] = ("acc", "acc_norm")
) -> list[dict[str, Any]]:
    """Per-item records: prompt, chosen and gold label, 0/1 metrics and choice log-likelihoods."""
    requests = [(item.context, TARGET_DELIMITER + c) for item in items for c in item.choices]
    results = loglikelihoods(
        context.model,
        context.tokenizer,
        requests,
        context.batch_size,
        context.show_progress,
        context.label,
        context.shared_context,
    )
    records, offset = [], 0
    for item in items:
        lls = [ll for ll, _ in results[offset : offset + len(item.choices)]]
        offset += len(item.choices)
        records.append(_record(item, lls, metrics))
    return records


def choice_runner(
    primary: str, metrics: tuple[str, ...] = ("acc", "acc_norm")
) -> Callable[[RunContext, Loaded], dict[str, Any]]:
    """A benchmark `run` that scores ChoiceItems and summarizes `metrics`."""

    def run(context: RunContext, loaded: Loaded) -> dict[str, Any]:
        records = score_choice_items(context, loaded.items, metrics)
        summary = summarize(records, list(metrics), context.resamples)
        return benchmark_result(primary, summary, records, loaded.source, loaded.settings)

    return run
