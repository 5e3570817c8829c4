"""`goaltune init`: a commented starting config measured from the user's data."""

from __future__ import annotations

from pathlib import Path

import typer

from goaltune.cli.base import QuietOption, app, console, quiet_libraries, user_errors


@app.command()
@user_errors
def init(
    data: str = typer.Option(..., "--data", help="Training data file (or builtin:NAME, hf:...)."),
    test: str | None = typer.Option(
        None, "--test", help="Held-out task items (prompt + reference)."
    ),
    model: str = typer.Option(
        "smollm2-135m-instruct", "--model", help="Base model whose tokenizer measures the data."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write the config [default: NAME.yaml, NAME from --data]."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --out."),
    quiet: bool = QuietOption,
) -> None:
    """Look at the data and write a commented config to start from (metrics, lengths, batch)."""
    from goaltune.init_config import suggest_metrics, write_init_config

    quiet_libraries(quiet)
    profile, out = write_init_config(out, data, test, model, force=force)
    metrics, why = suggest_metrics(profile)
    console.print(f"wrote [bold]{out}[/]: {profile.records} records ({profile.data_format})")
    console.print(f"task metrics {', '.join(metrics)}: {why}", highlight=False, markup=False)
    console.print(f"fill in the goal's TODOs, then: goaltune run {out}", markup=False)
