"""The recipes behind the CLI commands: run (eval, train, eval, verdict, report), train, eval.

Each step writes its artifacts into the run folder as soon as it is done, so a failure later on
never costs what was already finished. With several processes every process runs every step (the
work is sharded inside), and only the main process writes files.
"""

from __future__ import annotations

import functools
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from goaltune.adapters import (
    adapter_is_active,
    build_lora_model,
    load_adapter,
    save_adapter,
)
from goaltune.audit import audit_run
from goaltune.checkpoints import latest_checkpoint
from goaltune.config import EvalConfig, RunConfig, dump_config
from goaltune.data import PreparedData, load_task_items, prepare_training_data
from goaltune.distributed import Context, context
from goaltune.errors import RunError, TrainingFailed, TrainingInterrupted
from goaltune.evalcache import EvalCache
from goaltune.evaluate.judges import base_outputs, probe_judges
from goaltune.evaluate.run import evaluate_model
from goaltune.evaluate.sequential import sequential_guards
from goaltune.goal_watch import goal_watch_for
from goaltune.hardware import place_model
from goaltune.models import (
    load_model_and_tokenizer,
    parameter_counts,
    require_4bit,
    resolve_model,
)
from goaltune.run_folder import (
    EvalResult,
    RunFolder,
    TrainingMetrics,
    create_run_dir,
    dump_record,
    parse_record,
    resolve_run_dir,
    utc_now,
    write_json,
)
from goaltune.trackers import log_run_results, require_trackers
from goaltune.train import TrainResult, seed_everything, train_adapter

_LIBRARIES = (
    "goaltune",
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "datasets",
    "safetensors",
    "gguf",
    "lm_eval",
)


def library_versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Installed versions of Python and the libraries that shape a run's results (and `extra`)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in (*_LIBRARIES, *extra):
        try:
            versions[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def training_metrics(
    config: RunConfig,
    data: PreparedData,
    counts: dict[str, float],
    result: TrainResult,
    run_started: float,
) -> TrainingMetrics:
    """The content of training_metrics.json: what was trained, how, and what it cost."""
    resolved = resolve_model(config.model.name_or_path)
    return TrainingMetrics.model_validate(
        {
            "run_name": config.name,
            "created": utc_now(),
            "model": {
                "name_or_path": config.model.name_or_path,
                "kind": resolved.kind,
                "location": resolved.location,
                "dtype": config.model.dtype,
                "parameters": counts,
            },
            "hyperparameters": {
                **config.lora.model_dump(mode="json"),
                **config.train.model_dump(mode="json"),
            },
            "data": {
                **data.stats,
                "format": data.data_format,
                "fingerprint_sha256": data.fingerprint,
                "train_on": config.data.train_on,
                "truncation_policy": config.data.truncation,
                "max_seq_length": config.train.max_seq_length,
            },
            "seed": config.train.seed,
            "device": result.device,
            "processes": result.processes,
            "global_batch_size": (
                config.train.per_device_train_batch_size
                * config.train.gradient_accumulation_steps
                * result.processes
            ),
            "bf16_autocast": result.bf16,
            "bf16_base": result.bf16_base,
            "training_attention": result.attention,
            "steps": result.steps,
            "epochs": round(result.epochs, 4),
            "tokens_seen": result.tokens_seen,
            "input_tokens": result.input_tokens,
            "memory": {**result.memory, "unit": "MiB"},
            "train_time_s": round(result.train_seconds, 2),
            "wall_time_s": round(time.perf_counter() - run_started, 2),
            "loss": result.summary(),
            "versions": library_versions(),
            "torch_threads": torch.get_num_threads(),
            "goal_watch": result.goal_watch,
        }
    )


def start_run(config: RunConfig) -> Path:
    """Create the run folder and write the resolved config and a running status."""
    run_dir = create_run_dir(config.output_dir, config.name)
    folder = RunFolder(run_dir)
    folder.write_config_text(dump_config(config))
    folder.set_status("running")
    return run_dir


def train_run(
    config: RunConfig,
    run_dir: Path,
    model: Any,
    tokenizer: Any,
    data: PreparedData,
    show_progress: bool = True,
    resume: bool = False,
) -> Any:
    """Attach LoRA, train (or resume), save the adapter and training_metrics.json.

    Returns the trained model, ready to evaluate on every process.
    """
    dist = context()
    started = time.perf_counter()
    seed_everything(config.train.seed)  # the adapter's initial weights depend on it
    lora_model = build_lora_model(model, config.lora)
    counts = parameter_counts(lora_model)
    folder = RunFolder(run_dir)
    checkpoint = dist.broadcast(latest_checkpoint(folder.checkpoints_dir) if resume else None)
    result = train_adapter(
        lora_model,
        tokenizer,
        data.train,
        data.validation,
        config.train,
        run_dir,
        show_progress,
        resume_from=checkpoint,
        watch=goal_watch_for(config, folder, tokenizer, data.validation_examples),
    )
    adapter = dist.on_main(lambda: save_adapter(lora_model, run_dir, result.gathered_adapter))
    dist.on_main(
        lambda: folder.write_training_metrics(
            training_metrics(config, data, counts, result, started)
        )
    )
    if result.sharded_params:  # no process holds the trained weights whole: load them back
        base, _ = load_model_and_tokenizer(config.model)
        place_model(base, dist.device)
        return load_adapter(base, adapter)
    return lora_model


def resume_command(run_dir: Path, train_only: bool, dist: Context) -> str:
    """The command that continues this run (with as many processes as it had)."""
    processes = f" --num-processes {dist.world_size}" if dist.active else ""
    return f"goaltune {'train' if train_only else 'run'} --resume {run_dir}{processes}"


def run_pipeline(
    config: RunConfig,
    show_progress: bool = True,
    train_only: bool = False,
    resume_dir: Path | None = None,
    before_cache: EvalCache | None = None,
) -> Path:
    """Evaluate the base model, train, evaluate again, judge and report. Returns the run folder.

    With `resume_dir`, continue that run: finished steps (before-eval, checkpointed training)
    are reused. With `before_cache`, the base model's evaluation is taken from (or stored in)
    that cache, so runs sharing a base model and evaluation settings evaluate it once.
    """
    dist = context()
    resolve_model(config.model.name_or_path)  # a wrong model path fails before any folder exists
    if config.model.load_in_4bit:
        require_4bit()
    require_trackers(config.train.report_to)
    if not train_only:  # a dead judge endpoint fails here, before any training
        probe_judges(config.eval.judges)
    run_dir = resume_dir or dist.on_main(lambda: start_run(config))
    folder = RunFolder(run_dir)
    show_progress = show_progress and dist.is_main
    dist.on_main(lambda: folder.set_status("running"))
    try:
        with dist.main_first():  # the main process fills the model and data caches
            model, tokenizer = load_model_and_tokenizer(config.model)
            data = prepare_training_data(config.data, config.train, tokenizer)
        place_model(model, dist.device)
        items = (
            None
            if train_only
            else load_task_items(config.data, data.validation_examples, config.eval.limit)
        )
        # the first step: audit.json; a failing audit is reported and costs nothing else
        dist.on_main(lambda: audit_run(config, folder, tokenizer, data, items, show_progress))
        evaluate = functools.partial(
            evaluate_model,
            items=items,
            config=config.eval,
            model_name=config.model.name_or_path,
            task_name=config.data.test or config.data.train,
            show_progress=show_progress,
        )
        if not train_only and dist.broadcast(not folder.eval_path("before").is_file()):
            evaluate_before = functools.partial(
                evaluate, model, tokenizer, adapter=None, label="before"
            )
            before = (
                before_cache.fetch(config, items, evaluate_before)
                if before_cache and not dist.active
                else evaluate_before()
            )
            dist.on_main(lambda: folder.write_eval("before", before))
        lora_model = train_run(
            config, run_dir, model, tokenizer, data, show_progress, resume=resume_dir is not None
        )
        if not train_only:
            if not adapter_is_active(lora_model):
                raise TrainingFailed("the trained adapter is all zeros: after would equal before")
            adapter, base = str(folder.adapter_dir), base_outputs(folder)  # for pairwise judges
            stops = (
                sequential_guards(config.goal, folder.read_eval("before"))
                if config.eval.sequential
                else None
            )
            after = evaluate(
                lora_model,
                tokenizer,
                adapter=adapter,
                label="after",
                baseline=base,
                sequential=stops,
            )
            dist.on_main(lambda: folder.write_eval("after", after))
    except (KeyboardInterrupt, TrainingInterrupted) as stop:
        if dist.is_main:
            folder.set_status(
                "interrupted",
                str(stop) or "stopped by the user",
                resume=resume_command(run_dir, train_only, dist),
            )
        raise
    except TrainingFailed as failure:
        if dist.is_main:
            _mark_failed(run_dir, failure)
            judge_and_report(run_dir)  # a FAILED verdict with the reason, and the loss curve so far
        raise
    except BaseException as error:
        if dist.is_main:
            _mark_failed(run_dir, error)
        raise
    if dist.is_main:
        _judge_then_finish(run_dir, judge=not train_only)
        log_run_results(run_dir, config.train.report_to)
    return run_dir


def _judge_then_finish(run_dir: Path, judge: bool) -> None:
    """Write the verdict and reports, then mark the run finished; a failure marks it failed.

    The trained adapter and both evaluations are already on disk, so `goaltune verdict` can
    redo this step once the cause is fixed.
    """
    try:
        if judge:
            judge_and_report(run_dir)
    except BaseException as error:
        _mark_failed(run_dir, error)
        raise
    RunFolder(run_dir).set_status("finished")


def _mark_failed(run_dir: Path, error: BaseException) -> None:
    """Record the failure in status.json; if even that cannot be written (disk full), skip it."""
    try:
        RunFolder(run_dir).set_status("failed", f"{type(error).__name__}: {error}")
    except RunError:
        pass


def resume_pipeline(run: str | Path, show_progress: bool = True, train_only: bool = False) -> Path:
    """Continue an interrupted or failed run from its own config and latest checkpoint."""
    from goaltune.config import load_config

    run_dir = resolve_run_dir(run)
    folder = RunFolder(run_dir)
    if folder.read_status().status == "finished":
        raise RunError(f"{run_dir}: the run already finished; nothing to resume")
    config = load_config(folder.config_path)
    return run_pipeline(config, show_progress, train_only, resume_dir=run_dir)


def judge_and_report(run_dir: Path) -> None:
    """Write verdict.json and the reports from the run folder's files."""
    from goaltune.report import build_reports
    from goaltune.verdict import verdict_for_run

    RunFolder(run_dir).write_verdict(verdict_for_run(run_dir).to_record())
    build_reports(run_dir)


def evaluate_standalone(
    model: str,
    adapter: Path | None,
    benchmarks: list[str],
    task: str | None,
    metrics: list[str],
    limit: int | None,
    data_dir: str | None,
    batch_size: int,
    max_new_tokens: int,
    out: Path | None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """`goaltune eval`: one model (plus adapter) on task items and/or benchmarks.

    Under several processes each runs its share of the batches and gets every result; only the
    main process shows progress and writes `out`.
    """
    from goaltune.config import DataConfig, ModelConfig
    from goaltune.errors import ConfigError

    if not benchmarks and not task:
        raise ConfigError("nothing to evaluate: pass --benchmarks and/or --task")
    dist = context()
    show_progress = show_progress and dist.is_main
    with dist.main_first():  # the main process fills the model cache
        base, tokenizer = load_model_and_tokenizer(ModelConfig(name_or_path=model))
    place_model(base, dist.device)
    evaluated = load_adapter(base, adapter) if adapter else base
    items = None
    if task:
        data = DataConfig(train=task) if task.startswith("builtin:") else DataConfig(test=task)
        items = load_task_items(data, limit=limit)
    config = EvalConfig(
        metrics=metrics,
        benchmarks=benchmarks,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        limit=limit,
        benchmark_limit=limit,
        benchmark_data_dir=data_dir,
    )
    result = evaluate_model(
        evaluated,
        tokenizer,
        items,
        config,
        model,
        str(adapter) if adapter else None,
        task or "",
        "eval",
        show_progress,
    )
    if out and dist.is_main:
        write_json(out, dump_record(parse_record(EvalResult, result, out)))
    return result
