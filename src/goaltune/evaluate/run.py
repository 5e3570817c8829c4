"""One model state evaluated on the user's task and the benchmarks: eval/before|after.json."""

from __future__ import annotations

import time
from typing import Any

from goaltune.adapters import require_active_adapter
from goaltune.config import EvalConfig
from goaltune.evaluate.generation import prompt_lookup
from goaltune.evaluate.judges import Judging
from goaltune.evaluate.sequential import SequentialGuards
from goaltune.evaluate.task import evaluate_task
from goaltune.run_folder import utc_now


def evaluate_model(
    model: Any,
    tokenizer: Any,
    items: list[dict[str, Any]] | None,
    config: EvalConfig,
    model_name: str,
    adapter: str | None,
    task_name: str,
    label: str,
    show_progress: bool = True,
    baseline: dict[str, str] | None = None,
    sequential: SequentialGuards | None = None,
) -> dict[str, Any]:
    """Task metrics and benchmarks for one model state: the content of eval/before|after.json.

    With `sequential` (the after-evaluation under eval.sequential) its guards stop early.
    """
    if adapter is not None:
        require_active_adapter(model, tokenizer, adapter)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "model": model_name,
        "adapter": adapter,
        "created": utc_now(),
        "settings": {
            "max_new_tokens": config.max_new_tokens,
            "batch_size": config.batch_size,
            "greedy": True,
            "limit": config.limit,
            "benchmark_limit": config.benchmark_limit,
            "sequential": sequential is not None,
        },
    }
    with prompt_lookup(config.prompt_lookup):  # every generation of this evaluation
        if items:
            result["task"] = evaluate_task(
                model,
                tokenizer,
                items,
                config.metrics,
                task_name,
                config.max_new_tokens,
                config.batch_size,
                config.bootstrap_resamples,
                show_progress,
                f"{label}: task",
                style=[check.model_dump() for check in config.style],
                judging=Judging(config.judges, baseline, config.batch_size)
                if config.judges
                else None,
            )
        if config.benchmarks:
            from goaltune.evaluate.benchmarks import run_benchmarks

            result["benchmarks"] = run_benchmarks(
                model,
                tokenizer,
                config.benchmarks,
                data_dir=config.benchmark_data_dir,
                limit=config.benchmark_limit,
                batch_size=config.batch_size,
                resamples=config.bootstrap_resamples,
                show_progress=show_progress,
                label=label,
                shared_context=config.shared_context,
                sequential=sequential,
            )
    result["elapsed_s"] = round(time.perf_counter() - started, 2)
    return result
