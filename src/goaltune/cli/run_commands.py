"""`goaltune run`, `train`, `eval`, `verdict`, `report`: the recipe and its steps."""

from __future__ import annotations

from pathlib import Path

import typer

from goaltune.cli.base import (
    AccelerateConfigOption,
    AllowCodeOption,
    ProcessesOption,
    QuietOption,
    ResumeOption,
    SetOption,
    app,
    console,
    launch_workers,
    parse_overrides,
    permit_code_execution,
    quiet_libraries,
    should_launch,
    start_or_resume,
    user_errors,
    worker_args,
)
from goaltune.distributed import is_main_process


@app.command()
@user_errors
def run(
    config: Path | None = typer.Argument(None, help="Run config (YAML)."),
    resume: Path | None = ResumeOption,
    set_: list[str] = SetOption,
    quiet: bool = QuietOption,
    allow_code: bool = AllowCodeOption,
    num_processes: int | None = ProcessesOption,
    accelerate_config: Path | None = AccelerateConfigOption,
) -> None:
    """Evaluate the base model, train a LoRA adapter, evaluate again, judge and report."""
    from goaltune.summary import print_run_summary

    if should_launch(num_processes, accelerate_config):
        args = worker_args("run", config, resume, set_, quiet)
        args += ["--allow-code-execution"] if allow_code else []
        raise typer.Exit(
            launch_workers(args, config, resume, set_, num_processes, accelerate_config)
        )
    permit_code_execution(allow_code)
    run_dir = start_or_resume(config, resume, set_, quiet, train_only=False)
    if is_main_process():
        print_run_summary(run_dir, console)


@app.command()
@user_errors
def audit(
    config: Path = typer.Argument(..., help="Run config (YAML)."),
    set_: list[str] = SetOption,
    out: Path | None = typer.Option(None, help="Also write the audit record (JSON) here."),
    quiet: bool = QuietOption,
) -> None:
    """Audit the data alone: test items and benchmark items in the training data, lengths."""
    from goaltune.audit import audit_config, summary_lines
    from goaltune.config import load_config
    from goaltune.run_folder import dump_record, write_json

    quiet_libraries(quiet)
    record = audit_config(load_config(config, parse_overrides(set_)))
    if out is not None:
        write_json(out, dump_record(record))
    for line in summary_lines(record):
        console.print(line, highlight=False, markup=False)


@app.command()
@user_errors
def train(
    config: Path | None = typer.Argument(None, help="Run config (YAML)."),
    resume: Path | None = ResumeOption,
    set_: list[str] = SetOption,
    quiet: bool = QuietOption,
    num_processes: int | None = ProcessesOption,
    accelerate_config: Path | None = AccelerateConfigOption,
) -> None:
    """Train a LoRA adapter only (no before/after evaluation)."""
    from goaltune.run_folder import RunFolder

    if should_launch(num_processes, accelerate_config):
        args = worker_args("train", config, resume, set_, quiet)
        raise typer.Exit(
            launch_workers(args, config, resume, set_, num_processes, accelerate_config)
        )
    run_dir = start_or_resume(config, resume, set_, quiet, train_only=True)
    if is_main_process():
        console.print(f"adapter written to [bold]{RunFolder(run_dir).adapter_dir}[/]")


@app.command("eval")
@user_errors
def eval_(
    model: str = typer.Option("smollm2-135m-instruct", help="Hub id, folder, .gguf or alias."),
    adapter: Path | None = typer.Option(None, help="A PEFT adapter folder (e.g. runs/X/adapter)."),
    benchmarks: str = typer.Option("", help="Comma-separated, e.g. arc_easy,mmlu:global_facts"),
    task: str | None = typer.Option(None, help="Task items file (or builtin:NAME) to generate on."),
    metrics: str = typer.Option("exact_match", help="Task metrics, comma-separated."),
    limit: int | None = typer.Option(None, help="At most N items per benchmark/task."),
    data_dir: str | None = typer.Option(None, help="Local benchmark data folder."),
    batch_size: int | None = typer.Option(
        None, help="Batch size for generation and scoring [default: a run's eval.batch_size]."
    ),
    max_new_tokens: int = typer.Option(256, help="Generation length for the task."),
    out: Path | None = typer.Option(None, help="Write the results JSON here."),
    quiet: bool = QuietOption,
    allow_code: bool = AllowCodeOption,
    num_processes: int | None = typer.Option(
        None,
        "--num-processes",
        min=1,
        help="Evaluate in N processes through accelerate launch (one per GPU; gloo on CPU), each "
        "on its share of the batches; per-item results are those of one process.",
    ),
    accelerate_config: Path | None = AccelerateConfigOption,
) -> None:
    """Evaluate a model (optionally with an adapter) on task items and/or benchmarks."""
    from goaltune.config import DEFAULT_EVAL_BATCH_SIZE
    from goaltune.distributed import launch
    from goaltune.pipeline import evaluate_standalone
    from goaltune.summary import print_eval_table

    if should_launch(num_processes, accelerate_config):  # the same command in each process
        args = [
            arg
            for name, value in [
                ("--model", model),
                ("--adapter", adapter),
                ("--benchmarks", benchmarks),
                ("--task", task),
                ("--metrics", metrics),
                ("--limit", limit),
                ("--data-dir", data_dir),
                ("--batch-size", batch_size),
                ("--max-new-tokens", max_new_tokens),
                ("--out", out),
            ]
            if value is not None
            for arg in (name, str(value))
        ]
        flags = [("--quiet", quiet), ("--allow-code-execution", allow_code)]
        args += [flag for flag, wanted in flags if wanted]
        raise typer.Exit(launch(["eval", *args], num_processes, accelerate_config))
    permit_code_execution(allow_code)
    quiet_libraries(quiet)
    result = evaluate_standalone(
        model=model,
        adapter=adapter,
        benchmarks=[b for b in benchmarks.split(",") if b.strip()],
        task=task,
        metrics=[m for m in metrics.split(",") if m.strip()],
        limit=limit,
        data_dir=data_dir,
        batch_size=batch_size or DEFAULT_EVAL_BATCH_SIZE,
        max_new_tokens=max_new_tokens,
        out=out,
        show_progress=not quiet,
    )
    if is_main_process():
        print_eval_table(result, console)


@app.command()
@user_errors
def verdict(run_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """Recompute verdict.json and the reports from a run folder's files."""
    from goaltune.pipeline import judge_and_report
    from goaltune.run_folder import resolve_run_dir
    from goaltune.summary import print_run_summary

    folder = resolve_run_dir(run_dir)
    judge_and_report(folder)
    print_run_summary(folder, console)


@app.command()
@user_errors
def report(run_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """Rebuild report.html and report.md from the run folder's files alone."""
    from goaltune.report import build_reports
    from goaltune.run_folder import resolve_run_dir

    folder = resolve_run_dir(run_dir)
    paths = build_reports(folder)
    for path in paths:
        console.print(f"wrote [bold]{path}[/]")
