"""The `goaltune` command line: thin wrappers that parse options and call one function each."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from goaltune.distributed import is_main_process, world_size_from_env
from goaltune.errors import GoaltuneError, TrainingFailed, TrainingInterrupted

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="LoRA fine-tuning judged by the goal you set."
)
console = Console()
err_console = Console(stderr=True)


def one_line(error: Exception) -> str:
    """The error's message as one line, escaped so brackets in it are not read as markup."""
    lines = (line.strip() for line in str(error).splitlines())
    return escape("; ".join(line for line in lines if line))


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print user errors as one clear line (no traceback) and exit with their code.

    With several processes only the main one prints; every one exits with the code.
    `GOALTUNE_DEBUG=1` also prints the full chained traceback before the line.
    """

    def say(message: str, **options: Any) -> None:
        if is_main_process():
            err_console.print(message, highlight=False, **options)

    def debug(error: BaseException) -> None:
        # the wrapped library error is the cause: a bug report needs it, a user fixing a typo not
        if os.environ.get("GOALTUNE_DEBUG") == "1" and is_main_process():
            traceback.print_exception(error, file=sys.stderr)

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GoaltuneError as error:
            debug(error)
            say(f"[bold red]error:[/] {one_line(error)}", soft_wrap=True)
            raise typer.Exit(error.exit_code) from None
        except TrainingFailed as error:
            debug(error)
            say(f"[bold red]training failed:[/] {one_line(error)}")
            raise typer.Exit(error.exit_code) from None
        except TrainingInterrupted as stop:
            say(f"[bold yellow]interrupted:[/] {stop}")
            folder = Path(str(stop.checkpoint)).parent.parent
            processes = world_size_from_env()
            more = f" --num-processes {processes}" if processes > 1 else ""
            say(f"resume with: goaltune {command.__name__} --resume {folder}{more}")
            raise typer.Exit(stop.exit_code) from None

    return wrapper


def _parse_overrides(pairs: list[str]) -> dict[str, Any]:
    import yaml

    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise GoaltuneError(f"--set {pair!r}: expected KEY=VALUE")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


SetOption = typer.Option([], "--set", help="Override a config key, e.g. --set lora.r=8")
QuietOption = typer.Option(False, "--quiet", "-q", help="No progress bars.")


ResumeOption = typer.Option(None, "--resume", help="Continue this interrupted run folder.")
ProcessesOption = typer.Option(
    None,
    "--num-processes",
    min=1,
    help="Data-parallel training in N processes through accelerate launch (one per GPU; gloo on "
    "CPU). The global batch is per_device_train_batch_size x N x accumulation.",
)
AccelerateConfigOption = typer.Option(
    None,
    "--accelerate-config",
    exists=True,
    dir_okay=False,
    help="An Accelerate config file (multi-GPU, FSDP, DeepSpeed), e.g. examples/accelerate/.",
)
AllowCodeOption = typer.Option(
    False,
    "--allow-code-execution",
    help="Let code:PATH benchmarks run model-written programs (in goaltune's sandbox).",
)


def _allow_code(allowed: bool) -> None:
    """--allow-code-execution: the opt-in that code:PATH benchmarks check."""
    if allowed:
        from goaltune.evaluate.sandbox import allow_code_execution

        allow_code_execution()


def _quiet_libraries(quiet: bool) -> None:
    """With --quiet, Transformers and the Hub show no progress bars either."""
    if quiet:
        from transformers.utils import logging

        logging.disable_progress_bar()


def _start_or_resume(
    config: Path | None, resume: Path | None, set_: list[str], quiet: bool, train_only: bool
) -> Path:
    """Run a new config, or continue the run folder given with --resume (never both)."""
    from goaltune.config import load_config
    from goaltune.pipeline import resume_pipeline, run_pipeline

    _quiet_libraries(quiet)
    if resume is not None and config is None:
        return resume_pipeline(resume, show_progress=not quiet, train_only=train_only)
    if config is None or resume is not None:
        raise GoaltuneError("give either a CONFIG file or --resume RUN_FOLDER")
    return run_pipeline(
        load_config(config, _parse_overrides(set_)), show_progress=not quiet, train_only=train_only
    )


def _launch(
    args: list[str],
    config: Path | None,
    resume: Path | None,
    set_: list[str],
    num_processes: int | None,
    accelerate_config: Path | None,
) -> int:
    """Check the config here, then run `goaltune ARGS` in several processes (accelerate launch)."""
    from goaltune.config import load_config
    from goaltune.distributed import launch
    from goaltune.models import require_4bit, resolve_model

    if (config is None) == (resume is None):
        raise GoaltuneError("give either a CONFIG file or --resume RUN_FOLDER")
    if config is not None:
        checked = load_config(config, _parse_overrides(set_))
        resolve_model(checked.model.name_or_path)
        if checked.model.load_in_4bit:
            require_4bit()
    return launch(args, num_processes, accelerate_config)


def _worker_args(
    command: str, config: Path | None, resume: Path | None, set_: list[str], quiet: bool
) -> list[str]:
    """The command line each launched process runs (the same command, minus the launch options)."""
    args = [command, str(config)] if config is not None else [command, "--resume", str(resume)]
    for pair in set_:
        args += ["--set", pair]
    return [*args, *(["--quiet"] if quiet else [])]


def _launches(num_processes: int | None, accelerate_config: Path | None) -> bool:
    """True when this command should start several processes (and is not one of them)."""
    wanted = (num_processes or 1) > 1 or accelerate_config is not None
    return wanted and world_size_from_env() == 1 and "LOCAL_RANK" not in os.environ


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

    if _launches(num_processes, accelerate_config):
        args = _worker_args("run", config, resume, set_, quiet)
        args += ["--allow-code-execution"] if allow_code else []
        raise typer.Exit(_launch(args, config, resume, set_, num_processes, accelerate_config))
    _allow_code(allow_code)
    run_dir = _start_or_resume(config, resume, set_, quiet, train_only=False)
    if is_main_process():
        print_run_summary(run_dir, console)


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

    if _launches(num_processes, accelerate_config):
        args = _worker_args("train", config, resume, set_, quiet)
        raise typer.Exit(_launch(args, config, resume, set_, num_processes, accelerate_config))
    run_dir = _start_or_resume(config, resume, set_, quiet, train_only=True)
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
    batch_size: int = typer.Option(16, help="Batch size for generation and scoring."),
    max_new_tokens: int = typer.Option(256, help="Generation length for the task."),
    out: Path | None = typer.Option(None, help="Write the results JSON here."),
    quiet: bool = QuietOption,
    allow_code: bool = AllowCodeOption,
) -> None:
    """Evaluate a model (optionally with an adapter) on task items and/or benchmarks."""
    from goaltune.pipeline import evaluate_standalone
    from goaltune.summary import print_eval_table

    _allow_code(allow_code)
    _quiet_libraries(quiet)
    result = evaluate_standalone(
        model=model,
        adapter=adapter,
        benchmarks=[b for b in benchmarks.split(",") if b.strip()],
        task=task,
        metrics=[m for m in metrics.split(",") if m.strip()],
        limit=limit,
        data_dir=data_dir,
        batch_size=batch_size,
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


BaseOption = typer.Option(False, "--base", help="Also show the base model's answer.")
TemperatureOption = typer.Option(0.0, min=0.0, help="Sampling temperature (0: greedy).")


@app.command()
@user_errors
def generate(
    run_dir: Path = typer.Argument(..., help="A run folder (or run name)."),
    prompt: str = typer.Option(..., "--prompt", "-p", help="The user message."),
    max_new_tokens: int = typer.Option(256, min=1, help="Reply length limit."),
    base: bool = BaseOption,
    temperature: float = TemperatureOption,
) -> None:
    """Answer one prompt with the run's adapter applied (streamed), optionally the base too."""
    from goaltune.adapters import load_run_model
    from goaltune.chat import ChatSession

    _quiet_libraries(True)
    session = ChatSession(load_run_model(run_dir), max_new_tokens, temperature, base)
    session.ask(prompt)


@app.command()
@user_errors
def chat(
    run_dir: Path = typer.Argument(..., help="A run folder (or run name)."),
    max_new_tokens: int = typer.Option(256, min=1, help="Reply length limit."),
    base: bool = BaseOption,
    temperature: float = TemperatureOption,
) -> None:
    """Chat with the run's fine-tuned model; /reset clears the history, /quit exits."""
    from goaltune.adapters import load_run_model
    from goaltune.chat import ChatSession, chat_loop

    _quiet_libraries(True)
    chat_loop(ChatSession(load_run_model(run_dir), max_new_tokens, temperature, base))


@app.command()
@user_errors
def export(
    run_dir: Path = typer.Argument(..., help="A run folder (or run name)."),
    merged: Path | None = typer.Option(None, "--merged", help="Write a merged HF folder."),
    gguf: Path | None = typer.Option(None, "--gguf", help="Write GGUF (+ Ollama Modelfile)."),
    gguf_type: str = typer.Option("f16", "--type", help="GGUF tensor type: f16 or q8_0."),
    hub: str | None = typer.Option(None, "--hub", help="Upload to this Hub repo (user/name)."),
    merged_upload: bool = typer.Option(
        False, "--merged-upload", help="Upload the merged model, not the adapter."
    ),
    private: bool = typer.Option(False, "--private", help="Create the Hub repo as private."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output."),
) -> None:
    """Merge the adapter into the base weights and export it (folder, GGUF) or upload it."""
    from goaltune import export as exporting
    from goaltune.adapters import merge_run

    if not (merged or gguf or hub):
        raise GoaltuneError("give at least one of --merged DIR, --gguf FILE, --hub REPO")
    if merged_upload and not hub:
        raise GoaltuneError("--merged-upload needs --hub REPO")
    if gguf_type not in exporting.GGUF_TYPES:
        raise GoaltuneError(f"--type {gguf_type}: choose one of {', '.join(exporting.GGUF_TYPES)}")
    for target in (merged, gguf):
        if target:
            exporting.check_target(target, overwrite)
    model = merge_run(run_dir) if merged or gguf or merged_upload else None
    if merged and model:
        console.print(f"wrote [bold]{exporting.save_merged(model, merged, overwrite)}[/]")
    if gguf and model:
        path = exporting.write_gguf(model, gguf, gguf_type, overwrite)
        console.print(f"wrote [bold]{path}[/] and {path.with_name('Modelfile')}")
    if hub:
        url = exporting.push_to_hub(run_dir, hub, model if merged_upload else None, private)
        console.print(f"uploaded to [bold]{url}[/]")


@app.command("runs")
@user_errors
def runs_(root: Path = typer.Argument(Path("runs"), help="Folder holding run folders.")) -> None:
    """List runs: model, data, key hyperparameters, status, verdict, task change, time."""
    from goaltune.compare import print_runs

    print_runs(root, console)


@app.command()
@user_errors
def compare(
    runs: list[Path] = typer.Argument(
        ..., help="Run folders or names; a sweep folder stands for its runs."
    ),
    group_by: str | None = typer.Option(
        None,
        "--group-by",
        help="model, dataset, lora.r, num_train_epochs, learning_rate or any "
        "config path (default: the one key the runs differ in).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for comparison.html/.md/.json (default: a new one beside the runs).",
    ),
) -> None:
    """Compare runs: scores before/after, loss curves, cost, verdicts, and confounds."""
    from goaltune.compare import (
        compare_runs,
        default_out_dir,
        expand_runs,
        print_comparison,
        write_comparison,
    )

    run_dirs = expand_runs(runs)
    comparison = compare_runs(run_dirs, group_by)
    print_comparison(comparison, console)
    for path in write_comparison(comparison, out or default_out_dir(run_dirs)):
        console.print(f"wrote [bold]{path}[/]")


@app.command()
@user_errors
def sweep(
    config: Path | None = typer.Argument(None, help="Base run config (YAML)."),
    grid: list[str] = typer.Option(
        [], "--grid", help="KEY=V1,V2,... (repeat for more keys), e.g. --grid lora.r=8,16"
    ),
    resume: Path | None = typer.Option(None, "--resume", help="Continue this sweep folder."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Sweep folder (default: OUTPUT_DIR/sweep-NAME-STAMP); an existing one continues.",
    ),
    jobs: int = typer.Option(
        1,
        "--jobs",
        min=1,
        help="Runs at a time, each in its own process with its share of the CPU threads.",
    ),
    quiet: bool = QuietOption,
    allow_code: bool = AllowCodeOption,
) -> None:
    """Run a grid of configs, evaluate each base model once, and compare the runs."""
    from goaltune.compare import print_comparison
    from goaltune.run_folder import SweepFolder
    from goaltune.sweep import compare_sweep, create_sweep, open_sweep, parse_grid, run_sweep

    _allow_code(allow_code)
    if (config is None) == (resume is None) or (resume and (grid or out)):
        raise GoaltuneError(
            "give a CONFIG with --grid (and optionally --out), or --resume SWEEP_FOLDER alone"
        )
    if resume:
        planned = open_sweep(resume)
    else:
        assert config is not None  # checked above: exactly one of CONFIG and --resume
        planned = create_sweep(config, parse_grid(grid), out)
    console.print(f"sweep folder: [bold]{planned.folder}[/] ({len(planned.runs)} runs)")
    try:
        finished = run_sweep(
            planned,
            lambda line: console.print(line, markup=False),
            show_progress=not quiet,
            jobs=jobs,
        )
    except (KeyboardInterrupt, TrainingInterrupted):
        err_console.print(
            f"[bold yellow]interrupted:[/] continue with: goaltune sweep --resume {planned.folder}",
            highlight=False,
        )
        raise typer.Exit(130) from None
    comparison = compare_sweep(planned, finished)
    if comparison is not None:
        print_comparison(comparison, console)
        html = SweepFolder(planned.folder).comparison_path("html")
        console.print(f"comparison: [bold]{html}[/]")


def main() -> None:
    """Entry point for `python -m goaltune` (what `accelerate launch -m goaltune` runs)."""
    from goaltune.distributed import record_exit_code

    try:
        app(prog_name="goaltune")
    except SystemExit as done:
        record_exit_code(done.code)
        raise


if __name__ == "__main__":
    main()
