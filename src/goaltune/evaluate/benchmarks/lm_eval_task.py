"""`lm_eval:TASK`: any lm-evaluation-harness task (or group), run by the harness itself.

The harness evaluates the very model object passed in (`HFLM(pretrained=<model>)`, so a PEFT
model keeps its adapter; HFLM's own `peft=` argument is ignored for in-memory models), with the
task's own defaults (few-shot, prompt, no chat template). Tasks are looked up among YAML configs
in the data_dir, when it holds any, then among lm-eval's built-in tasks. Item records come from
`log_samples=True`; metric keys are the harness's `metric,filter` names. Every per-sample metric
that is a number (or a list of 0/1 values, flattened, as IFEval's inst-level metrics) gets a
score_summary; `harness_results` keeps the harness's own aggregates.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks.ifeval import seed_langdetect
from goaltune.evaluate.benchmarks.registry import Benchmark, Loaded, RunContext, register, require
from goaltune.evaluate.benchmarks.results import benchmark_result
from goaltune.evaluate.stats import score_summary

NAME = "lm_eval"
_SAMPLE_KEYS = {
    "doc_id",
    "doc",
    "target",
    "arguments",
    "resps",
    "filtered_resps",
    "filter",
    "metrics",
    "doc_hash",
    "prompt_hash",
    "target_hash",
}


@cache
def task_manager(include_path: str | None, defaults: bool) -> Any:
    """An lm-eval TaskManager (cached: indexing the built-in tasks takes seconds)."""
    from goaltune.evaluate.nltk_data import ensure_punkt_tab

    require("lm_eval", NAME)
    ensure_punkt_tab()
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include_path, include_defaults=defaults)


def _include_path(data_dir: str | None) -> str | None:
    if data_dir is None or not Path(data_dir).is_dir():
        return None
    return data_dir if any(Path(data_dir).rglob("*.yaml")) else None


def find_task(task: str, data_dir: str | None) -> Any:
    """The TaskManager that knows `task`; BenchmarkError if none does."""
    include = _include_path(data_dir)
    if include is not None and task in task_manager(include, False).all_tasks:
        return task_manager(include, False)
    manager = task_manager(include, True)
    if task not in manager.all_tasks:
        raise BenchmarkError(f"{NAME}:{task}: unknown lm-evaluation-harness task")
    return manager


def load(options: str | None, data_dir: str | None, limit: int | None) -> Loaded:
    """Check the task exists; the harness loads its data when it runs."""
    if not options or "," in options:
        raise BenchmarkError(f"{NAME}: name one harness task, e.g. {NAME}:arc_easy")
    find_task(options, data_dir)
    return Loaded(
        [],
        f"lm-evaluation-harness task {options}",
        {"task": options, "data_dir": data_dir, "limit": limit},
    )


def _loglikelihoods(sample: dict[str, Any]) -> list[float] | None:
    """The per-request log-likelihoods of a log-likelihood sample, else None."""
    resps = [r[0] for r in sample["resps"] if r]
    if resps and all(isinstance(r, tuple | list) and len(r) == 2 for r in resps):
        return [float(r[0]) for r in resps]
    return None


def _output(sample: dict[str, Any]) -> str:
    """The most likely continuation of a log-likelihood sample, else the first raw response."""
    lls = _loglikelihoods(sample)
    if lls is not None:
        return str(sample["arguments"][lls.index(max(lls))][1]).strip()
    resps = [r[0] for r in sample["resps"] if r]
    return str(resps[0]) if resps else ""


def _metric_values(sample: dict[str, Any]) -> dict[str, Any]:
    suffix = sample["filter"]
    return {f"{k},{suffix}": v for k, v in sample.items() if k not in _SAMPLE_KEYS}


def _is_binary_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, bool | int | float) for v in value)


def samples_to_records(samples: dict[str, list[dict]], grouped: bool) -> list[dict[str, Any]]:
    """One record per (subtask, doc) with numeric metrics from every filter."""
    records: dict[tuple[str, int], dict[str, Any]] = {}
    for subtask, entries in samples.items():
        for sample in entries:
            key = (subtask, sample["doc_id"])
            record = records.setdefault(
                key,
                {
                    "id": f"{subtask}/{sample['doc_id']}" if grouped else str(sample["doc_id"]),
                    "prompt": str(sample["arguments"][0][0]),
                    "output": _output(sample),
                    "target": str(sample["target"]),
                    "metrics": {},
                },
            )
            if (lls := _loglikelihoods(sample)) is not None:
                record["loglikelihoods"] = lls
            for metric, value in _metric_values(sample).items():
                if isinstance(value, bool | int | float):
                    record["metrics"][metric] = float(value)
                elif _is_binary_list(value):
                    record.setdefault("metric_lists", {})[metric] = [float(v) for v in value]
    return list(records.values())


def summarize_records(records: list[dict[str, Any]], resamples: int) -> dict[str, dict]:
    """score_summary of each scalar metric over records, each list metric over all its values."""
    lists = [r.get("metric_lists", {}) for r in records]
    names = dict.fromkeys(m for r, extra in zip(records, lists) for m in [*r["metrics"], *extra])
    summary = {}
    for name in names:
        values = [r["metrics"][name] for r in records if name in r["metrics"]]
        values += [v for extra in lists for v in extra.get(name, [])]
        summary[name] = score_summary(values, resamples)
    return summary


def run(context: RunContext, loaded: Loaded) -> dict[str, Any]:
    """Evaluate through lm_eval.simple_evaluate on the in-memory model."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    seed_langdetect()
    task, settings = loaded.settings["task"], loaded.settings
    lm = HFLM(pretrained=context.model, tokenizer=context.tokenizer, batch_size=context.batch_size)
    output = simple_evaluate(
        model=lm,
        tasks=[task],
        limit=settings["limit"],
        log_samples=True,
        bootstrap_iters=0,
        task_manager=find_task(task, settings["data_dir"]),
    )
    samples = output["samples"]
    records = samples_to_records(samples, grouped=len(samples) > 1 or task not in samples)
    metrics = summarize_records(records, context.resamples)
    harness = {
        k: v
        for k, v in output["results"].get(task, {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    result = benchmark_result(
        next(iter(metrics), ""),
        metrics,
        records,
        loaded.source,
        {"task": task, "limit": settings["limit"]},
    )
    result["harness_results"] = harness
    return result


register(Benchmark(NAME, load, run))
