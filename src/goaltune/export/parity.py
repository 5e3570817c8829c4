"""The export parity gate: the exported model re-scored on the run's task items against the
adapter model, with the run's evaluation settings, so a broken merge or GGUF conversion fails
`goaltune export` instead of shipping.

Both sides go through the task evaluation of `goaltune run` (`evaluate/task.py`) and are paired
item by item with the verdict's machinery (`deltas.py`); a GGUF file is read back by an
independent reader (Transformers' GGUF loader, and llama.cpp where llama-cpp-python is installed).
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from goaltune.adapters import RunModel
from goaltune.config import RunConfig
from goaltune.data import load_task_items, prepare_training_data
from goaltune.deltas import metric_delta, pair_items
from goaltune.distributed import context
from goaltune.errors import ExportParityFailed, ModelError
from goaltune.evaluate.generation import render_prompts
from goaltune.evaluate.task import evaluate_task, score_outputs
from goaltune.hardware import place_model
from goaltune.models import load_model_and_tokenizer, prepare_tokenizer
from goaltune.run_folder import (
    ParityMetric,
    ParityReader,
    ParityRecord,
    TaskResult,
    parity_path,
    utc_now,
    write_parity,
)

Kind = Literal["merged", "gguf"]
Reader = Literal["transformers", "llama.cpp"]
# the gate fails when the whole 95% interval of export-minus-adapter lies below -TOLERANCE_POINTS
TOLERANCE_POINTS = 0.0
LLAMA_CPP_MISSING = "llama-cpp-python is not installed (pip install llama-cpp-python)"


@dataclass(frozen=True)
class ParityCheck:
    """What the gate compares: the run's items, its eval settings and the adapter's scores."""

    run: RunModel
    items: list[dict[str, Any]]
    selection: str
    adapter: TaskResult
    show_progress: bool = True


def task_items(run: RunModel, limit: int | None = None) -> list[dict[str, Any]]:
    """The items the run's task evaluation scored (data.test, a built-in's test split, or the
    validation split), the first `limit` of them when given."""
    config = run.config
    validation = None
    if not (config.data.test or config.data.train.startswith("builtin:")):
        # the items are the validation split, drawn as training drew it
        data = prepare_training_data(config.data, config.train, run.tokenizer)
        validation = data.validation_examples
    items = load_task_items(config.data, validation, config.eval.limit)
    return items[:limit] if limit else items


def score(
    model: Any,
    tokenizer: Any,
    items: list[dict[str, Any]],
    config: RunConfig,
    label: str,
    show: bool,
) -> TaskResult:
    """The items scored with the run's eval settings, through the task evaluation of a run."""
    ev = config.eval
    result = evaluate_task(
        model,
        tokenizer,
        items,
        ev.metrics,
        config.data.test or config.data.train,
        ev.max_new_tokens,
        ev.batch_size,
        ev.bootstrap_resamples,
        show,
        label,
        style=[check.model_dump() for check in ev.style],
    )
    return TaskResult.model_validate(result)


def start_check(run: RunModel, limit: int | None, show_progress: bool = True) -> ParityCheck:
    """Score the run's adapter model (before it is merged away) on the parity items."""
    items = task_items(run, limit)
    selection = f"first {len(items)}" if limit and limit <= len(items) else "all"
    adapter = score(run.model, run.tokenizer, items, run.config, "parity: adapter", show_progress)
    return ParityCheck(run, items, selection, adapter, show_progress)


# ---------------------------------------------------------------- reading the export back


def _load_merged(folder: Path, config: RunConfig) -> tuple[Any, Any]:
    model_config = config.model.model_copy(
        update={"name_or_path": str(folder), "load_in_4bit": False}
    )
    model, tokenizer = load_model_and_tokenizer(model_config)
    place_model(model, context().device)
    return model, tokenizer


def _load_gguf(path: Path, config: RunConfig) -> tuple[Any, Any]:
    """The GGUF file through Transformers' own GGUF reader (dequantized, float32)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    options = {"gguf_file": path.name}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), **options)
        model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), dtype=torch.float32, **options
        )
    except Exception as error:  # transformers raises many types for a file it cannot read
        raise ModelError(f"{path}: Transformers cannot read the exported GGUF ({error})") from error
    place_model(model, context().device)
    return model.eval(), prepare_tokenizer(tokenizer, config.model.chat_template)


def _llama_cpp_outputs(path: Path, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy completions by llama.cpp itself (what Ollama and LM Studio run)."""
    from llama_cpp import Llama  # type: ignore[import-not-found]  # optional, no stubs

    llm = Llama(model_path=str(path), n_ctx=0, verbose=False)  # n_ctx 0: the model's context
    outputs = []
    for prompt in prompts:  # the rendered template already holds BOS, as in generate_texts
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        reply = llm.create_completion(tokens, max_tokens=max_new_tokens, temperature=0.0)
        outputs.append(str(reply["choices"][0]["text"]))
    return outputs


def _export_scores(check: ParityCheck, kind: Kind, path: Path) -> dict[Reader, TaskResult]:
    config, show = check.run.config, check.show_progress
    model, tokenizer = (_load_merged if kind == "merged" else _load_gguf)(path, config)
    scores = {"transformers": score(model, tokenizer, check.items, config, "parity: export", show)}
    del model
    if kind == "gguf" and importlib.util.find_spec("llama_cpp") is not None:
        prompts = render_prompts(tokenizer, [item["messages"] for item in check.items])
        outputs = _llama_cpp_outputs(path, prompts, config.eval.max_new_tokens)
        ev = config.eval
        style = [c.model_dump() for c in ev.style]
        task = score_outputs(check.items, outputs, ev.metrics, "", ev.bootstrap_resamples, style)
        scores["llama.cpp"] = TaskResult.model_validate(task)
    return scores  # type: ignore[return-value]  # the literal keys are Readers


# ---------------------------------------------------------------- comparing


def compare(
    adapter: TaskResult, export: TaskResult, reader: Reader, resamples: int
) -> ParityReader:
    """Each task metric of the adapter model against the export, paired by item id."""
    metrics = []
    for name in adapter.metrics:
        pairs = pair_items(adapter.items, export.items, name)
        if not pairs:
            continue
        delta = metric_delta(
            name, "task", [p.before for p in pairs], [p.after for p in pairs], None, resamples
        )
        metrics.append(
            ParityMetric(
                name=name,
                adapter=delta.before,
                export=delta.after,
                n=delta.n,
                diff_points=round(delta.delta_points, 2),
                ci_low_points=round(delta.ci_low_points, 2),
                ci_high_points=round(delta.ci_high_points, 2),
                worse=delta.ci_high_points < -TOLERANCE_POINTS,
                differing_ids=[p.id for p in pairs if p.before != p.after],
            )
        )
    answers = {item.id: item.output for item in export.items}
    return ParityReader(
        reader=reader,
        passed=not any(metric.worse for metric in metrics),
        metrics=metrics,
        output_differs_ids=[
            str(item.id) for item in adapter.items if answers.get(item.id) != item.output
        ],
    )


def check_export(check: ParityCheck, kind: Kind, path: Path) -> tuple[ParityRecord, Path]:
    """Score the written export, compare it with the adapter model, write parity.json."""
    started = time.perf_counter()
    config = check.run.config
    readers = []
    for reader, task in _export_scores(check, kind, path).items():
        readers.append(compare(check.adapter, task, reader, config.eval.bootstrap_resamples))
    skipped = {}
    if kind == "gguf" and not any(r.reader == "llama.cpp" for r in readers):
        skipped["llama.cpp"] = LLAMA_CPP_MISSING
    record = ParityRecord(
        created=utc_now(),
        run=str(check.run.run_dir),
        export=str(path),
        kind=kind,
        items=len(check.items),
        selection=check.selection,
        settings={
            "metrics": config.eval.metrics,
            "max_new_tokens": config.eval.max_new_tokens,
            "batch_size": config.eval.batch_size,
            "bootstrap_resamples": config.eval.bootstrap_resamples,
            "greedy": True,
            "tolerance_points": TOLERANCE_POINTS,
        },
        passed=all(r.passed for r in readers),
        readers=readers,
        skipped=skipped,
        elapsed_s=round(time.perf_counter() - started, 2),
    )
    target = parity_path(path, kind)
    write_parity(target, record)
    return record, target


# ---------------------------------------------------------------- telling the user


def _metric_text(metric: ParityMetric) -> str:
    low, high = metric.ci_low_points, metric.ci_high_points
    return (
        f"{metric.name} {100 * metric.adapter:.1f}% vs {100 * metric.export:.1f}% "
        f"(diff {metric.diff_points:+.1f}, CI {low:+.1f}..{high:+.1f})"
    )


def parity_line(result: ParityReader) -> str:
    """'parity (transformers): json_valid 100.0% vs 100.0% (diff +0.0, CI +0.0..+0.0) — OK'."""
    figures = "; ".join(_metric_text(metric) for metric in result.metrics) or "no scored metric"
    return f"parity ({result.reader}): {figures} — {'OK' if result.passed else 'WORSE'}"


def require_parity(record: ParityRecord, written: Path) -> None:
    """ExportParityFailed (exit 3) when a reader finds the export worse beyond noise."""
    worse = [
        f"{result.reader}: {_metric_text(metric)}"
        for result in record.readers
        for metric in result.metrics
        if metric.worse
    ]
    if worse:
        raise ExportParityFailed(
            f"{record.export}: the export scores worse than the adapter model beyond noise "
            f"({'; '.join(worse)}); the items are in {written}"
        )
