"""The user's task evaluation: generate on held-out prompts, score each output, summarise."""

from __future__ import annotations

from typing import Any

from goaltune.config import DEFAULT_EVAL_BATCH_SIZE
from goaltune.evaluate.generation import generate_texts, render_prompts
from goaltune.evaluate.judges.core import Judging
from goaltune.evaluate.metrics import item_details, score_output
from goaltune.evaluate.stats import score_summary


def item_metrics(item: dict[str, Any], default_metrics: list[str]) -> list[str]:
    """The metrics that apply to an item: its own `metrics` list, else the config's."""
    own = item.get("metrics")
    return list(own) if isinstance(own, list) and own else default_metrics


def with_style(item: dict[str, Any], style: list[dict[str, Any]]) -> dict[str, Any]:
    """The item as scored: the config's style checks unless it brings its own `style_checks`."""
    return item if item.get("style_checks") or not style else {**item, "style_checks": style}


def prompt_text(item: dict[str, Any]) -> str:
    """The last user message of an item, for display in reports."""
    return next(m["content"] for m in reversed(item["messages"]) if m["role"] == "user")


def evaluate_task(
    model: Any,
    tokenizer: Any,
    items: list[dict[str, Any]],
    metrics: list[str],
    name: str,
    max_new_tokens: int = 256,
    batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
    resamples: int = 1000,
    show_progress: bool = True,
    label: str = "task eval",
    style: list[dict[str, Any]] | None = None,
    judging: Judging | None = None,
) -> dict[str, Any]:
    """Score the model on the task items; the `task` section of eval/before.json and after.json.

    `style` is eval.style (`{check, value}` dicts), the checks of the `style_pass` metric;
    `judging` scores the `judge:NAME` metrics.
    """
    prompts = render_prompts(tokenizer, [item["messages"] for item in items])
    outputs = generate_texts(
        model,
        tokenizer,
        prompts,
        max_new_tokens,
        batch_size,
        label=label,
        show_progress=show_progress,
    )
    return score_outputs(items, outputs, metrics, name, resamples, style, judging)


def score_outputs(
    items: list[dict[str, Any]],
    outputs: list[str],
    metrics: list[str],
    name: str,
    resamples: int = 1000,
    style: list[dict[str, Any]] | None = None,
    judging: Judging | None = None,
) -> dict[str, Any]:
    """Score each item's output and summarise: the `task` result of `evaluate_task`, also for
    outputs generated elsewhere (llama.cpp in `goaltune export`'s parity check)."""
    records = []
    for item, output in zip(items, outputs, strict=True):
        scored, names = with_style(item, style or []), item_metrics(item, metrics)
        records.append(
            {
                "id": item["id"],
                "prompt": prompt_text(item),
                "output": output,
                "reference": item.get("reference"),
                "metrics": score_output(output, scored, names),
                **item_details(output, scored, names),
            }
        )
    judged = judging.score(records, [item_metrics(i, metrics) for i in items]) if judging else {}
    names = sorted({key for record in records for key in record["metrics"]})
    summary = {  # an unjudged item's judge metric is None: not scored
        metric: _summary(
            [r["metrics"][metric] for r in records if r["metrics"].get(metric) is not None],
            resamples,
        )
        for metric in names
    }
    return {"name": name, "metrics": summary, "items": records, **_judges(judged)}


def _summary(values: list[float], resamples: int) -> dict[str, Any]:
    """score_summary, or no score when no item has a value (a judge could read no reply)."""
    return score_summary(values, resamples) if values else {"score": None, "n": 0}


def _judges(summaries: dict[str, Any]) -> dict[str, Any]:
    """The task section's `judges` key, only where judges scored it."""
    return {"judges": summaries} if summaries else {}
