"""The `goaltune` command line: thin wrappers that parse options and call one function each."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from goaltune.errors import GoaltuneError, TrainingFailed, TrainingInterrupted

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="LoRA fine-tuning judged by the goal you set.")
console = Console()
err_console = Console(stderr=True)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print user errors as one clear line (no traceback) and exit with their code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GoaltuneError as error:
            err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(error.exit_code) from None
        except TrainingFailed as error:
            err_console.print(f"[bold red]training failed:[/] {error}", highlight=False)
            raise typer.Exit(error.exit_code) from None
        except TrainingInterrupted as stop:
            err_console.print(f"[bold yellow]interrupted:[/] {stop}", highlight=False)
            folder = Path(str(stop.checkpoint)).parent.parent
            err_console.print(f"resume with: goaltune {command.__name__} --resume {folder}")
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


def _config_and_resume(config: Path | None, resume: Path | None, set_: list[str]) -> Any:
    from goaltune.config import load_config

    if (config is None) == (resume is None):
        raise GoaltuneError("give either a CONFIG file or --resume RUN_FOLDER")
    return None if resume else load_config(config, _parse_overrides(set_))


@app.command()
@user_errors
def run(config: Optional[Path] = typer.Argument(None, help="Run config (YAML)."),
        resume: Optional[Path] = ResumeOption, set_: list[str] = SetOption,
        quiet: bool = QuietOption) -> None:
    """Evaluate the base model, train a LoRA adapter, evaluate again, judge and report."""
    from goaltune.pipeline import resume_pipeline, run_pipeline
    from goaltune.summary import print_run_summary

    run_config = _config_and_resume(config, resume, set_)
    if run_config is None:
        run_dir = resume_pipeline(resume, show_progress=not quiet)
    else:
        run_dir = run_pipeline(run_config, show_progress=not quiet)
    print_run_summary(run_dir, console)


@app.command()
@user_errors
def train(config: Optional[Path] = typer.Argument(None, help="Run config (YAML)."),
          resume: Optional[Path] = ResumeOption, set_: list[str] = SetOption,
          quiet: bool = QuietOption) -> None:
    """Train a LoRA adapter only (no before/after evaluation)."""
    from goaltune.pipeline import resume_pipeline, run_pipeline

    run_config = _config_and_resume(config, resume, set_)
    if run_config is None:
        run_dir = resume_pipeline(resume, show_progress=not quiet, train_only=True)
    else:
        run_dir = run_pipeline(run_config, show_progress=not quiet, train_only=True)
    console.print(f"adapter written to [bold]{run_dir / 'adapter'}[/]")


@app.command("eval")
@user_errors
def eval_(
    model: str = typer.Option("smollm2-135m-instruct", help="Hub id, folder, .gguf or alias."),
    adapter: Optional[Path] = typer.Option(None, help="A PEFT adapter folder (e.g. runs/X/adapter)."),
    benchmarks: str = typer.Option("", help="Comma-separated, e.g. arc_easy,mmlu:global_facts"),
    task: Optional[str] = typer.Option(None, help="Task items file (or builtin:NAME) to generate on."),
    metrics: str = typer.Option("exact_match", help="Task metrics, comma-separated."),
    limit: Optional[int] = typer.Option(None, help="At most N items per benchmark/task."),
    data_dir: Optional[str] = typer.Option(None, help="Local benchmark data folder."),
    batch_size: int = typer.Option(16, help="Batch size for generation and scoring."),
    max_new_tokens: int = typer.Option(256, help="Generation length for the task."),
    out: Optional[Path] = typer.Option(None, help="Write the results JSON here."),
    quiet: bool = QuietOption,
) -> None:
    """Evaluate a model (optionally with an adapter) on task items and/or benchmarks."""
    from goaltune.pipeline import evaluate_standalone
    from goaltune.summary import print_eval_table

    result = evaluate_standalone(
        model=model, adapter=adapter, benchmarks=[b for b in benchmarks.split(",") if b.strip()],
        task=task, metrics=[m for m in metrics.split(",") if m.strip()], limit=limit,
        data_dir=data_dir, batch_size=batch_size, max_new_tokens=max_new_tokens, out=out,
        show_progress=not quiet)
    print_eval_table(result, console)


@app.command()
@user_errors
def verdict(run_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """Recompute verdict.json and the reports from a run folder's files."""
    from goaltune.pipeline import judge_and_report
    from goaltune.runs import resolve_run_dir
    from goaltune.summary import print_run_summary

    folder = resolve_run_dir(run_dir)
    judge_and_report(folder)
    print_run_summary(folder, console)


@app.command()
@user_errors
def report(run_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """Rebuild report.html and report.md from the run folder's files alone."""
    from goaltune.report import build_reports
    from goaltune.runs import resolve_run_dir

    folder = resolve_run_dir(run_dir)
    paths = build_reports(folder)
    for path in paths:
        console.print(f"wrote [bold]{path}[/]")


def main() -> None:
    """Entry point for `python -m goaltune`."""
    app(prog_name="goaltune")


if __name__ == "__main__":
    sys.exit(main())
