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
) -> dict[str, dict]:
    """Evaluate `model` (as passed: a PEFT model keeps its adapter) on each named benchmark.

    All names are resolved and all data loaded before the model runs, so an unknown name or a
    missing or malformed file fails fast. Returns, per spec, the `benchmarks` entry of eval JSON:
    primary_metric, metrics (score_summary each), items and source. `shared_context` scores a
    log-likelihood context's choices in one packed pass (see `goaltune.evaluate.packed`).
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
        results[spec] = bench.run(context, data)
    return results
