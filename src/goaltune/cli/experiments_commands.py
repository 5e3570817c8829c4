"""`goaltune runs`, `compare`, `ui`, `sweep`: many runs side by side."""

from __future__ import annotations

from pathlib import Path

import typer

from goaltune.cli.base import (
    AllowCodeOption,
    QuietOption,
    app,
    console,
    err_console,
    permit_code_execution,
    user_errors,
)
from goaltune.errors import GoaltuneError, TrainingInterrupted


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
def ui(
    roots: list[Path] = typer.Argument(
        None, help="Folders holding run folders, sweep folders or single runs (default: runs)."
    ),
    port: int = typer.Option(7860, "--port", min=1, max=65535, help="TCP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
) -> None:
    """A local web dashboard: runs, live loss curves, items before/after, comparisons."""
    from goaltune import ui as dashboard

    dashboard.require_ui_extra()
    if host not in dashboard.LOOPBACK:
        err_console.print(
            f"[bold yellow]warning:[/] binding {host}: the dashboard has no authentication, "
            "anyone who reaches this address can read the runs and download their adapters"
        )
    console.print(f"dashboard at [bold]{dashboard.url(host, port)}[/] (Ctrl-C stops)")
    dashboard.serve_ui(roots or [Path("runs")], host, port)


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
        help="Runs at a time, each in its own process with its share of the CPU threads "
        "(with GPUs, worker i uses GPU i mod the number of GPUs).",
    ),
    backend: str = typer.Option(
        "local",
        "--backend",
        help="local (this machine's processes) or ray (Ray tasks: a local instance, or --address).",
    ),
    address: str | None = typer.Option(
        None, "--address", help="With --backend ray: a running Ray cluster (auto or HOST:PORT)."
    ),
    quiet: bool = QuietOption,
    allow_code: bool = AllowCodeOption,
) -> None:
    """Run a grid of configs, evaluate each base model once, and compare the runs."""
    from goaltune.compare import print_comparison
    from goaltune.run_folder import SweepFolder
    from goaltune.sweep import compare_sweep, create_sweep, open_sweep, parse_grid, run_sweep

    permit_code_execution(allow_code)
    if backend not in ("local", "ray") or (address and backend != "ray"):
        raise GoaltuneError("--backend is local or ray; --address needs --backend ray")
    if backend == "ray":
        from goaltune.sweep_ray import require_ray

        require_ray()  # before any sweep folder is made
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

    def log(line: str) -> None:
        console.print(line, markup=False)

    try:
        if backend == "ray":
            from goaltune.sweep_ray import run_sweep_on_ray

            finished = run_sweep_on_ray(planned, log, address, jobs)
        else:
            finished = run_sweep(planned, log, show_progress=not quiet, jobs=jobs)
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
