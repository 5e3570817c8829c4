"""Terminal summaries: before/after tables, the verdict, and where the files are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from goaltune.runs import read_json


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _score_cell(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "-"
    return f"{_pct(entry['score'])} [{_pct(entry['ci_low'])}-{_pct(entry['ci_high'])}]"


def metric_rows(result: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(section, metric, summary) for the task and every benchmark in an eval result."""
    rows = []
    for metric, entry in result.get("task", {}).get("metrics", {}).items():
        rows.append(("task", metric, entry))
    for bench, section in result.get("benchmarks", {}).items():
        for metric, entry in section["metrics"].items():
            rows.append((bench, metric, entry))
    return rows


def print_eval_table(result: dict[str, Any], console: Console) -> None:
    """One evaluation's scores with n and 95% CIs (points)."""
    table = Table(title="evaluation (score % [95% CI])")
    for column in ("source", "metric", "score", "n"):
        table.add_column(column)
    for section, metric, entry in metric_rows(result):
        table.add_row(section, metric, _score_cell(entry), str(entry["n"]))
    console.print(table)


def print_before_after(before: dict[str, Any], after: dict[str, Any], console: Console) -> None:
    """Before and after side by side, with the change in points."""
    table = Table(title="before -> after (score % [95% CI])")
    for column in ("source", "metric", "before", "after", "change"):
        table.add_column(column)
    after_rows = {(s, m): e for s, m, e in metric_rows(after)}
    for section, metric, entry in metric_rows(before):
        later = after_rows.get((section, metric))
        change = "-" if later is None else f"{100 * (later['score'] - entry['score']):+.1f}"
        table.add_row(section, metric, _score_cell(entry), _score_cell(later), change)
    console.print(table)


def print_run_summary(run_dir: Path, console: Console) -> None:
    """Before/after table, verdict and report paths of a finished run."""
    eval_dir = run_dir / "eval"
    if (eval_dir / "before.json").is_file() and (eval_dir / "after.json").is_file():
        print_before_after(
            read_json(eval_dir / "before.json"), read_json(eval_dir / "after.json"), console
        )
    verdict_path = run_dir / "verdict.json"
    if verdict_path.is_file():
        verdict = read_json(verdict_path)
        caution = " (with caution)" if verdict.get("caution") else ""
        console.print(f"[bold]verdict: {verdict['verdict']}{caution}[/] - {verdict['headline']}")
        for recommendation in verdict.get("recommendations", [])[:5]:
            console.print(f"  - {recommendation}")
    console.print(f"run folder: [bold]{run_dir}[/]")
    if (run_dir / "report.html").is_file():
        console.print(f"report: [bold]{run_dir / 'report.html'}[/]")
