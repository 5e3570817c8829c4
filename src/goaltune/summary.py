"""Terminal summaries: before/after tables, the verdict, and where the files are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from goaltune.format import pct
from goaltune.run_folder import EvalResult, RunFolder, ScoreSummary, parse_record


def _score_cell(entry: ScoreSummary | None) -> str:
    if entry is None:
        return "-"
    return f"{pct(entry.score, '')} [{pct(entry.ci_low, '')}-{pct(entry.ci_high, '')}]"


def metric_rows(result: EvalResult) -> list[tuple[str, str, ScoreSummary]]:
    """(section, metric, summary) for the task and every benchmark in an eval result."""
    return [
        (section, metric, entry)
        for section, scored in result.sections()
        for metric, entry in scored.metrics.items()
    ]


def print_eval_table(result: EvalResult | dict[str, Any], console: Console) -> None:
    """One evaluation's scores with n and 95% CIs (points)."""
    result = parse_record(EvalResult, result, "evaluation") if isinstance(result, dict) else result
    table = Table(title="evaluation (score % [95% CI])")
    for column in ("source", "metric", "score", "n"):
        table.add_column(column)
    for section, metric, entry in metric_rows(result):
        table.add_row(section, metric, _score_cell(entry), str(entry.n))
    console.print(table)


def _change(before: ScoreSummary, after: ScoreSummary | None) -> str:
    if after is None or before.score is None or after.score is None:
        return "-"
    return f"{100 * (after.score - before.score):+.1f}"


def print_before_after(before: EvalResult, after: EvalResult, console: Console) -> None:
    """Before and after side by side, with the change in points."""
    table = Table(title="before -> after (score % [95% CI])")
    for column in ("source", "metric", "before", "after", "change"):
        table.add_column(column)
    after_rows = {(s, m): e for s, m, e in metric_rows(after)}
    for section, metric, entry in metric_rows(before):
        later = after_rows.get((section, metric))
        table.add_row(
            section, metric, _score_cell(entry), _score_cell(later), _change(entry, later)
        )
    console.print(table)


def print_run_summary(run_dir: Path, console: Console) -> None:
    """Before/after table, verdict and report paths of a finished run."""
    folder = RunFolder(run_dir)
    if folder.eval_path("before").is_file() and folder.eval_path("after").is_file():
        print_before_after(folder.read_eval("before"), folder.read_eval("after"), console)
    if folder.verdict_path.is_file():
        verdict = folder.read_verdict()
        caution = " (with caution)" if verdict.caution else ""
        console.print(f"[bold]verdict: {verdict.verdict}{caution}[/] - {verdict.headline}")
        for recommendation in verdict.recommendations[:5]:
            console.print(f"  - {recommendation}")
    console.print(f"run folder: [bold]{run_dir}[/]")
    if folder.report_html_path.is_file():
        console.print(f"report: [bold]{folder.report_html_path}[/]")
