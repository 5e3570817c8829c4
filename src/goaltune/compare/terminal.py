"""Comparisons and runs in the terminal: `goaltune compare`'s table and `goaltune runs`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from goaltune.compare.core import (
    Comparison,
    cost,
    find_runs,
    first_task_delta,
    flip_text,
    flipped_names,
    flips,
    status_name,
    verdict_name,
    worst_guard,
)
from goaltune.format import duration, get, short_duration, value_text
from goaltune.report.inputs import Json, load_run


def print_comparison(c: Comparison, console: Console) -> None:
    """The runs side by side, then what changed and the confounds."""
    table = RichTable(title=f"comparison{f' by {c.factor}' if c.factor else ''}")
    for column in (
        "run",
        *([c.factor] if c.factor else []),
        "status",
        "verdict",
        "task change",
        "worst guard",
        "train time",
    ):
        table.add_column(column, overflow="fold")
    for run in c.runs:
        factor = [value_text(run.value(c.factor))] if c.factor else []
        table.add_row(
            run.label,
            *factor,
            status_name(run.data),
            verdict_name(run.data) or "-",
            first_task_delta(run.data),
            worst_guard(run.data),
            duration(cost(run.data)["train_time_s"]),
        )
    console.print(table)
    _print_flips(c, console)
    for pair in c.pairs:
        console.print(f"  {pair.text()}", highlight=False)
    for pair in c.confounded:
        console.print(
            f"[yellow]confounded:[/] {pair.run.label} vs {pair.reference.label} also "
            f"differ in {', '.join(pair.confounders)}",
            highlight=False,
        )
    for note in c.notes:
        console.print(f"[dim]{note}[/]", highlight=False)


def _print_flips(c: Comparison, console: Console) -> None:
    """Each run's flips per judged metric, from its verdict.json (nothing when none has any)."""
    names = flipped_names(c.runs)
    if not names:
        return
    table = RichTable(title="flips: right → wrong / wrong → right (McNemar p)")
    for column in ("run", *names):
        table.add_column(column, overflow="fold")
    for run in c.runs:
        table.add_row(run.label, *(flip_text(flips(run.data).get(name)) for name in names))
    console.print(table)


def _short(value: Any) -> str:
    text = value_text(value)
    return Path(text).name if "/" in text and Path(text).exists() else text


def _epochs(config: Json) -> str:
    steps = get(config, "train", "max_steps")
    return f"{steps} steps" if steps else value_text(get(config, "train", "num_train_epochs"))


def run_row(run_dir: Path, root: Path) -> tuple[str, ...]:
    """One line of `goaltune runs`."""
    run = load_run(run_dir)
    config = run.config or {}
    verdict = verdict_name(run) or "-"
    caution = run.verdict is not None and run.verdict.caution
    return (
        str(run_dir.relative_to(root)),
        _short(get(config, "model", "name_or_path")),
        _short(get(config, "data", "train")),
        value_text(get(config, "lora", "r")),
        _epochs(config),
        value_text(get(config, "train", "learning_rate")),
        status_name(run),
        verdict + (" (caution)" if caution else ""),
        first_task_delta(run),
        worst_guard(run),
        short_duration(cost(run)["wall_time_s"]),
    )


RUNS_COLUMNS = (
    "run",
    "model",
    "dataset",
    "r",
    "epochs",
    "lr",
    "status",
    "verdict",
    "task change",
    "worst guard",
    "time",
)


def print_runs(root: Path, console: Console) -> int:
    """The run folders under `root` as a table; returns how many there are."""
    runs = find_runs(root)
    table = RichTable(title=f"runs in {root}")
    for column in RUNS_COLUMNS:
        table.add_column(column, overflow="fold")
    for run_dir in runs:
        table.add_row(*run_row(run_dir, root))
    console.print(table if runs else f"no runs in {root}")
    return len(runs)
