"""Benchmark suites (built-in and external) used to evaluate models before and after tuning.

Names: ifeval, gsm8k, arc_easy, arc_challenge, hellaswag, mmlu[:subject,...],
builtin:ifeval-mini, builtin:mc-mini, lm_eval:TASK, and a user's own files mc:PATH, qa:PATH and
code:PATH (user_mc, user_qa, user_code); each is one module of this package.
Prompts, metrics and scoring follow lm-evaluation-harness 0.4.13 (see each module).
To add a benchmark, add a module that defines `load(options, data_dir, limit) -> Loaded` and
`run(context, loaded) -> dict` and calls `register(Benchmark(name, load, run))`.
"""

from __future__ import annotations

from typing import Any

from goaltune.config import DEFAULT_EVAL_BATCH_SIZE
from goaltune.evaluate.benchmarks.registry import (
    BENCHMARKS,
    Benchmark,
    Loaded,
    RunContext,
    benchmark_names,
    join_specs,
    register,
    resolve,
)
from goaltune.evaluate.benchmarks.results import benchmark_result, summarize
from goaltune.evaluate.sequential import SequentialGuards, run_sequentially

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "Loaded",
    "RunContext",
    "benchmark_names",
    "join_specs",
    "load_benchmark",
    "register",
    "resolve",
    "run_benchmarks",
]


def load_benchmark(spec: str, data_dir: str | None = None, limit: int | None = None) -> Loaded:
    """Read and validate a benchmark's items (Hub, data_dir or package data)."""
    benchmark, options = resolve(spec)
    return benchmark.load(options, data_dir, limit)


def run_benchmarks(
    model: Any,
    tokenizer: Any,
    names: list[str],
    data_dir: str | None = None,
    limit: int | None = None,
    batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
    resamples: int = 1000,
    show_progress: bool = True,
    label: str = "eval",
    shared_context: bool = True,
    sequential: SequentialGuards | None = None,
) -> dict[str, dict]:
    """Evaluate `model` (as passed: a PEFT model keeps its adapter) on each named benchmark.

    All names are resolved and all data loaded before the model runs, so an unknown name or a
    missing or malformed file fails fast. Returns, per spec, the `benchmarks` entry of eval JSON:
    primary_metric, metrics (score_summary each), items and source. `shared_context` scores a
    log-likelihood context's choices in one packed pass (see `goaltune.evaluate.packed`).
    With `sequential`, each guard it names stops once its verdict band is decided
    (`goaltune.evaluate.sequential`).
    """
    specs = join_specs(names)
    planned = [(spec, resolve(spec)) for spec in specs]
    loaded = [
        (spec, bench, bench.load(options, data_dir, limit)) for spec, (bench, options) in planned
    ]
    results = {}
    for spec, bench, data in loaded:
        context = RunContext(
            model,
            tokenizer,
            batch_size,
            resamples,
            show_progress,
            f"{label}: {spec}",
            shared_context,
        )
        before = sequential.before.get(spec) if sequential else None
        if sequential and before and data.items:
            results[spec] = _run_sequentially(bench, context, data, before, sequential)
        else:
            results[spec] = bench.run(context, data)
    return results


def _run_sequentially(
    bench: Benchmark,
    context: RunContext,
    data: Loaded,
    before: dict[str, float],
    plan: SequentialGuards,
) -> dict[str, Any]:
    """One guard scored in random-order chunks until its band is decided, as one result."""
    records, last, summary = run_sequentially(
        data.items,
        context.batch_size,
        lambda chunk: bench.run(context, Loaded(chunk, data.source, data.settings)),
        before,
        plan.thresholds,
        plan.alpha,
    )
    metrics = (
        bench.summarize(records, context.resamples, data.settings)
        if bench.summarize
        else summarize(records, list(last["metrics"]), context.resamples)
    )
    result = benchmark_result(
        last["primary_metric"], metrics, records, last["source"], last["settings"]
    )
    return {**result, "sequential": summary}
