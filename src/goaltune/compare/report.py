"""The comparison as a document: report sections (rendered to HTML and Markdown like a run
report) and comparison.json, written together into one folder.

Figures are formatted by the same helpers as the run report, so a comparison and each run's
report agree.
"""

from __future__ import annotations

import os
from pathlib import Path

from goaltune.compare.core import (
    ComparedRun,
    Comparison,
    benchmarks,
    cost,
    flipped_names,
    flips,
    goal_task_metrics,
    status_name,
    task_metrics,
    verdict_name,
)
from goaltune.errors import GoaltuneError
from goaltune.format import (
    count,
    duration,
    memory_text,
    parameters_text,
    score_text,
    throughput_text,
    value_text,
)
from goaltune.report.content import change_cells, item_count
from goaltune.report.inputs import Json, RunData, entry, primary_metric
from goaltune.report.plots import (
    Score,
    ScoreRow,
    before_after_png,
    goal_curves_png,
    loss_curve_png,
    series,
)
from goaltune.report.render import (
    VERDICT_TONES,
    Badge,
    Block,
    Bullets,
    Cell,
    Chart,
    Report,
    Section,
    Table,
    Text,
    render_html,
    render_markdown,
)
from goaltune.run_folder import (
    ScoreSummary,
    SweepFolder,
    TrainingMetrics,
    atomic_write_text,
    create_run_dir,
    utc_now,
    write_json,
)
from goaltune.run_folder.schema import Part


def _verdict_cell(run: RunData) -> Cell:
    verdict = verdict_name(run)
    if not verdict:
        return "-"
    caution = " (caution)" if run.verdict and run.verdict.caution else ""
    return Badge(f"{verdict}{caution}", VERDICT_TONES.get(verdict, "muted"))


def _summary_section(c: Comparison) -> Section:
    what = f"grouped by {c.factor}" if c.factor else "each against the first run"
    blocks: list[Block] = [
        Text(
            f"{len(c.runs)} runs, {what}. Changes are after-score "
            "differences in percentage points; time is training time."
        )
    ]
    if c.pairs:
        blocks.append(Bullets([pair.text() for pair in c.pairs], "What changed"))
    if c.confounded:
        blocks.append(
            Bullets(
                [
                    f"{p.run.label} vs {p.reference.label} also differ in "
                    f"{', '.join(p.confounders)}: the change cannot be put down to "
                    f"{c.factor} alone."
                    for p in c.confounded
                ],
                "Confounded",
            )
        )
    blocks += [Text(note, note=True) for note in c.notes]
    return Section("summary", "Summary", blocks)


def _runs_section(c: Comparison) -> Section:
    keys = c.differing
    rows = [
        (
            run.label,
            *(value_text(run.value(k)) for k in keys),
            status_name(run.data),
            _verdict_cell(run.data),
            (run.data.verdict.headline if run.data.verdict else "") or "-",
            run.data.path.name,
        )
        for run in c.runs
    ]
    return Section(
        "runs",
        "Runs and verdicts",
        [Table(("run", *keys, "status", "verdict", "headline", "folder"), rows)],
    )


def _score_rows(c: Comparison, names: list[str], bench: bool) -> tuple[list[ScoreRow], list]:
    chart: list[ScoreRow] = []
    table: list[tuple[Cell, ...]] = []
    for name in names:
        for run in c.runs:
            before, after, metric = _entries(run.data, name, bench)
            if before is None and after is None:
                continue
            delta = run.data.deltas.get(name)
            if delta is not None and (delta.role == "guard") != bench:
                delta = None
            label = f"{run.label}: {name.removeprefix('builtin:')}"
            chart.append(ScoreRow(label, Score.from_entry(before), Score.from_entry(after)))
            n = item_count(delta) or item_count(after) or item_count(before)
            source = (name, f"{metric} (primary)") if bench else (name,)
            table.append(
                (
                    *source,
                    run.label,
                    score_text(before),
                    score_text(after),
                    *change_cells(delta, before, after),
                    count(n),
                )
            )
    return chart, table


def _entries(
    run: RunData, name: str, bench: bool
) -> tuple[ScoreSummary | None, ScoreSummary | None, str]:
    """(before entry, after entry, metric) of a task metric or a benchmark's primary metric."""
    before, after = run.before, run.after
    if not bench:
        return (
            entry(before.task if before else None, name),
            entry(after.task if after else None, name),
            name,
        )
    sections = [side.benchmarks.get(name) if side else None for side in (before, after)]
    metric = primary_metric(*sections)
    return entry(sections[0], metric), entry(sections[1], metric), str(metric)


_SCORE_HEADERS = (
    "run",
    "before [95% CI]",
    "after [95% CI]",
    "change, points [95% CI]",
    "judged",
    "n",
)


def _scores_section(c: Comparison, bench: bool) -> Section:
    goals = [name for name in goal_task_metrics(c.runs) if name in task_metrics(c.runs)]
    names = benchmarks(c.runs) if bench else list(dict.fromkeys([*goals, *task_metrics(c.runs)]))
    ident, title = ("benchmarks", "Guard benchmarks") if bench else ("task", "Task metrics")
    chart_rows, table_rows = _score_rows(c, names, bench)
    if not chart_rows:
        return Section(
            ident, title, [Text(f"No {title.lower()} in the runs' eval files.", note=True)]
        )
    alt = f"{title} before and after per run, with 95% confidence intervals"
    headers = ("benchmark", "metric", *_SCORE_HEADERS) if bench else ("metric", *_SCORE_HEADERS)
    return Section(
        ident,
        title,
        [Chart(f"chart-{ident}", alt, before_after_png(chart_rows)), Table(headers, table_rows)],
    )


def _flips_section(c: Comparison) -> Section:
    """Per judged metric and run: the items that went right -> wrong and wrong -> right."""
    rows: list[tuple[Cell, ...]] = []
    for name in flipped_names(c.runs):
        for run in c.runs:
            flip = flips(run.data).get(name)
            if flip is not None:
                p_value = f"{flip.p_value:.2g}"
                rows.append(
                    (
                        name,
                        flip.role,
                        run.label,
                        count(flip.right_to_wrong),
                        count(flip.wrong_to_right),
                        p_value,
                    )
                )
    if not rows:
        return Section("flips", "Flips", [Text("No run's verdict.json lists flips.", note=True)])
    return Section(
        "flips",
        "Flips",
        [
            Text(
                "Items of each judged metric whose right/wrong status changed from before to "
                "after (right at 0.5 or above), with McNemar's exact two-sided p-value."
            ),
            Table(("metric", "role", "run", "right → wrong", "wrong → right", "McNemar p"), rows),
        ],
    )


def _loss_section(c: Comparison) -> Section:
    histories = {run.label: run.data.history for run in c.runs if run.data.history}
    if not histories:
        return Section("loss", "Loss curves", [Text("No run has a loss history.", note=True)])
    rows: list[tuple[Cell, ...]] = []
    for label, history in histories.items():
        _, train = series(history, "train_loss")
        _, val = series(history, "val_loss")
        rows.append(
            (
                label,
                f"{train[-1]:.4f}" if train else "-",
                f"{min(val):.4f}" if val else "-",
                count(len(train)),
            )
        )
    alt = f"Train and validation loss per optimizer step of {len(histories)} runs, overlaid."
    return Section(
        "loss",
        "Loss curves",
        [
            Chart("chart-loss", alt, loss_curve_png(histories)),
            Table(("run", "final train loss", "best validation loss", "logged steps"), rows),
            *_goal_blocks(c),
        ],
    )


def _goal_blocks(c: Comparison) -> list[Block]:
    """The runs that watched their goal while training: their goal curves on one chart."""
    goals = {}
    for run in c.runs:
        folder = run.data.folder
        if folder.goal_history_path.is_file():
            try:
                goals[run.label] = folder.read_goal_history()
            except GoaltuneError:
                continue  # the run's own report names the problem
    if not goals:
        return []
    alt = (
        f"Goal curves of the {len(goals)} of {len(c.runs)} runs that watched their goal "
        "(task metrics solid, guards dashed), by supervised tokens seen."
    )
    return [Chart("chart-goal", alt, goal_curves_png(goals))]


def _cost_section(c: Comparison) -> Section:
    rows: list[tuple[Cell, ...]] = []
    for run in c.runs:
        metrics, figures = run.data.metrics or TrainingMetrics(), cost(run.data)
        rows.append(
            (
                run.label,
                duration(figures["train_time_s"]),
                memory_text(metrics.memory),
                throughput_text(metrics.loss),
                parameters_text(metrics.model.parameters),
                (f"{duration(figures['eval_before_s'])} / {duration(figures['eval_after_s'])}"),
            )
        )
    return Section(
        "cost",
        "Cost",
        [
            Table(
                (
                    "run",
                    "train time",
                    "peak memory",
                    "throughput",
                    "trainable parameters",
                    "eval time before / after",
                ),
                rows,
            )
        ],
    )


def comparison_report(c: Comparison, source: str) -> Report:
    """The comparison as a report document (rendered like a run report)."""
    facts = [
        ("runs", str(len(c.runs))),
        ("grouped by", c.factor or "-"),
        ("differing keys", ", ".join(c.differing) or "none"),
    ]
    sections = [
        _summary_section(c),
        _runs_section(c),
        _scores_section(c, bench=False),
        _scores_section(c, bench=True),
        _flips_section(c),
        _loss_section(c),
        _cost_section(c),
    ]
    html_name = SweepFolder(Path(source)).comparison_path("html").name
    return Report("Comparison", facts, sections, source, html_name)


# ---------------------------------------------------------------- outputs


def _as_read(part: Part | None) -> Json | None:
    """A part of a run file with the fields the file holds (no defaults filled in)."""
    return part.model_dump(exclude_unset=True) if part is not None else None


def _run_json(run: ComparedRun, c: Comparison) -> Json:
    data = run.data
    task = {}
    for m in task_metrics(c.runs):
        before, after, _ = _entries(data, m, bench=False)
        task[m] = {"before": _as_read(before), "after": _as_read(after)}
    bench = {}
    for name in benchmarks(c.runs):
        before, after, metric = _entries(data, name, bench=True)
        bench[name] = {
            "primary_metric": metric,
            "before": _as_read(before),
            "after": _as_read(after),
        }
    return {
        "label": run.label,
        "run_dir": str(data.path),
        "status": data.status.status if data.status else None,
        "verdict": verdict_name(data),
        "factor_value": run.value(c.factor) if c.factor else None,
        "config": {k: run.value(k) for k in c.differing},
        "task": task,
        "benchmarks": bench,
        "deltas": [_as_read(d) for d in data.verdict.deltas] if data.verdict else [],
        "flips": [_as_read(flip) for flip in flips(data).values()],
        "cost": cost(data),
    }


def comparison_json(c: Comparison) -> Json:
    """comparison.json: every figure shown, copied from the runs' files."""
    return {
        "created": utc_now(),
        "group_by": c.factor,
        "differing_keys": c.differing,
        "runs": [_run_json(run, c) for run in c.runs],
        "comparisons": [pair.to_dict() for pair in c.pairs],
        "notes": c.notes,
    }


def default_out_dir(run_dirs: list[Path]) -> Path:
    """A new `comparison-<stamp>` folder beside the runs."""
    parent = Path(os.path.commonpath([p.resolve().parent for p in run_dirs]))
    return create_run_dir(parent, "comparison")


def write_comparison(c: Comparison, out_dir: Path) -> list[Path]:
    """Write comparison.html (self-contained), comparison.md and comparison.json into `out_dir`."""
    folder = SweepFolder(out_dir)  # a sweep's folder, or a comparison folder of its own
    report = comparison_report(c, out_dir.name)
    write_json(folder.comparison_path("json"), comparison_json(c))
    atomic_write_text(folder.comparison_path("html"), render_html(report))
    atomic_write_text(folder.comparison_path("md"), render_markdown(report))
    return [folder.comparison_path(suffix) for suffix in ("html", "md", "json")]
