"""The CLI's shared parts: the typer app, consoles, error handling, options, process launching."""

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
from goaltune.extras import missing_package_message

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

    A missing package goaltune knows (goaltune.extras) is such an error too: its install line.

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
        except ModuleNotFoundError as error:
            # a package goaltune knows, missing: the install line, not the traceback
            message = missing_package_message(error)
            if message is None:
                raise
            debug(error)
            say(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
            raise typer.Exit(2) from None
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


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
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


def permit_code_execution(allowed: bool) -> None:
    """--allow-code-execution: the opt-in that code:PATH benchmarks check."""
    if allowed:
        from goaltune.evaluate.sandbox import allow_code_execution

        allow_code_execution()


def quiet_libraries(quiet: bool) -> None:
    """With --quiet, Transformers and the Hub show no progress bars either."""
    if quiet:
        from transformers.utils import logging

        logging.disable_progress_bar()


def start_or_resume(
    config: Path | None, resume: Path | None, set_: list[str], quiet: bool, train_only: bool
) -> Path:
    """Run a new config, or continue the run folder given with --resume (never both)."""
    from goaltune.config import load_config
    from goaltune.pipeline import resume_pipeline, run_pipeline

    quiet_libraries(quiet)
    if resume is not None and config is None:
        return resume_pipeline(resume, show_progress=not quiet, train_only=train_only)
    if config is None or resume is not None:
        raise GoaltuneError("give either a CONFIG file or --resume RUN_FOLDER")
    return run_pipeline(
        load_config(config, parse_overrides(set_)), show_progress=not quiet, train_only=train_only
    )


def launch_workers(
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
        checked = load_config(config, parse_overrides(set_))
        resolve_model(checked.model.name_or_path)
        if checked.model.load_in_4bit:
            require_4bit()
    return launch(args, num_processes, accelerate_config)


def worker_args(
    command: str, config: Path | None, resume: Path | None, set_: list[str], quiet: bool
) -> list[str]:
    """The command line each launched process runs (the same command, minus the launch options)."""
    args = [command, str(config)] if config is not None else [command, "--resume", str(resume)]
    for pair in set_:
        args += ["--set", pair]
    return [*args, *(["--quiet"] if quiet else [])]


def should_launch(num_processes: int | None, accelerate_config: Path | None) -> bool:
    """True when this command should start several processes (and is not one of them)."""
    wanted = (num_processes or 1) > 1 or accelerate_config is not None
    return wanted and world_size_from_env() == 1 and "LOCAL_RANK" not in os.environ


def main() -> None:
    """Entry point for `python -m goaltune` (what `accelerate launch -m goaltune` runs)."""
    from goaltune.distributed import record_exit_code

    try:
        app(prog_name="goaltune")
    except SystemExit as done:
        record_exit_code(done.code)
        raise
