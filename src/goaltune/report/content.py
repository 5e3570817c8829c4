"""The run report's content: the sections of one run, built from what `load_run` read.

Every input is optional: a section whose files are missing or unreadable says which and why.
The verdict, task and benchmark scores and changed items are here; the training sections (loss,
diagnosis, cost, setup) are in `sections_training`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from goaltune.format import count, finite, get, pct, points, score_text, value_text
from goaltune.report.inputs import RunData, entry, primary_metric
from goaltune.report.plots import Score, ScoreRow, before_after_png
from goaltune.report.render import (
    Badge,
    Banner,
    Block,
    Bullets,
    Cell,
    Chart,
    ItemChange,
    Report,
    Section,
    Table,
    Text,
)
from goaltune.report.sections_flips import flips_section
from goaltune.report.sections_training import (
    cost_section,
    diagnosis_section,
    loss_section,
    setup_section,
)
from goaltune.run_folder import DeltaRecord, ScoredItem, ScoredSet, ScoreSummary, TaskResult

MAX_ITEMS = 20
MAX_OUTPUT_CHARS = 2000
CHANGE_TONES = {"gain": "good", "drop": "bad", "within noise": "muted"}
ITEM_TONES = {"regressed": "bad", "mixed": "warn", "improved": "good"}  # also the display order


def _clip(text: Any) -> str:
    text = "" if text is None else str(text)
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return f"{text[:MAX_OUTPUT_CHARS]}\n... ({len(text) - MAX_OUTPUT_CHARS:,} more characters)"


def _status_line(run: RunData) -> str:
    status = run.status.status if run.status else "unknown"
    reason = run.status.reason if run.status else None
    return f"Run status: {status}" + (f" ({reason})." if reason else ".")


def _verdict_section(run: RunData) -> Section:
    verdict = run.verdict
    if verdict is None:
        why = run.missing("verdict")
        if run.problem("verdict") == "missing":
            why += " (a train-only run, or the run stopped before it was judged)"
        banner = Banner(None, False, f"No verdict: {why}.", [_status_line(run)])
        blocks: list[Block] = [banner]
    else:
        blocks = [Banner(verdict.verdict, verdict.caution, verdict.headline, list(verdict.reasons))]
        if verdict.recommendations:
            blocks.append(Bullets(list(verdict.recommendations), "Recommendations"))
    if run.problems:
        listed = ", ".join(f"{name} ({why})" for name, why in run.problems.items())
        blocks.append(
            Text(
                f"Not available in the run folder: {listed}. Sections that need them "
                "say so; everything else is shown.",
                note=True,
            )
        )
    return Section("summary", "Verdict", blocks)


def _goal_targets(run: RunData) -> dict[str, float]:
    goals = get(run.config, "goal", "task_metrics") or []
    return {
        g["name"]: g["target"] for g in goals if isinstance(g, Mapping) and finite(g.get("target"))
    }


def _score(summary: ScoreSummary | None) -> float | None:
    return summary.score if summary is not None else None


def item_count(entry: DeltaRecord | ScoreSummary | None) -> int | None:
    """The number of items behind a delta or a score (None when there is neither)."""
    return entry.n if entry is not None else None


def change_cells(
    delta: DeltaRecord | None, before: ScoreSummary | None, after: ScoreSummary | None
) -> tuple[Cell, Cell]:
    """(change in points with its paired CI, judged badge) from a verdict delta, else a plain
    difference of the means."""
    if delta is None:
        b, a = _score(before), _score(after)
        return (points(100 * (a - b)) if finite(a) and finite(b) else "-"), "-"
    text = (
        f"{points(delta.delta_points)} [{points(delta.ci_low_points)}, "
        f"{points(delta.ci_high_points)}]"
    )
    return text, Badge(delta.change, CHANGE_TONES.get(delta.change, "muted"))


def _target_cell(target: float | None, after: ScoreSummary | None) -> Cell:
    if not finite(target):
        return "-"
    score = _score(after)
    if not finite(score):
        return f"{pct(target)}"
    reached = score >= target
    return Badge(
        f"{pct(target)} {'reached' if reached else 'not reached'}", "good" if reached else "warn"
    )


def _alt(prefix: str, rows: list[ScoreRow]) -> str:
    parts = [
        f"{r.label} {pct(r.before.score if r.before else None)} to "
        f"{pct(r.after.score if r.after else None)}"
        for r in rows
    ]
    return f"{prefix} before and after, with 95% confidence intervals: " + "; ".join(parts)


def _eval_missing_note(run: RunData, what: str) -> Text:
    why = run.missing("before", "after")
    return Text(
        f"No {what} to show" + (f": {why}." if why else " in the evaluation files."), note=True
    )


def _metric_names(*sections: ScoredSet | None) -> list[str]:
    names: dict[str, None] = {}
    for section in sections:
        names.update(dict.fromkeys(section.metrics if section else {}))
    return list(names)


def _task_section(run: RunData) -> Section:
    before: TaskResult | None = run.before.task if run.before else None
    after: TaskResult | None = run.after.task if run.after else None
    names = _metric_names(before, after)
    if not names:
        return Section("task", "Task metrics", [_eval_missing_note(run, "task metrics")])
    deltas, targets = run.deltas, _goal_targets(run)
    rows: list[ScoreRow] = []
    table_rows: list[tuple[Cell, ...]] = []
    for name in names:
        b, a = entry(before, name), entry(after, name)
        delta = deltas.get(name)
        if delta is not None and delta.role != "task":
            delta = None
        target = delta.target if delta and finite(delta.target) else targets.get(name)
        rows.append(ScoreRow(name, Score.from_entry(b), Score.from_entry(a), target))
        n = item_count(delta) or item_count(a) or item_count(b)
        table_rows.append(
            (
                name,
                score_text(b),
                score_text(a),
                *change_cells(delta, b, a),
                count(n),
                _target_cell(target, a),
            )
        )
    task_name = next((t.name for t in (before, after) if t and t.name), "task")
    blocks: list[Block] = [
        Text(
            f"Task: {task_name}. Scores are averages over items (0-100%) with 95% bootstrap "
            "intervals; changes are in percentage points.",
            note=True,
        ),
        Chart("chart-task", _alt("Task metrics", rows), before_after_png(rows)),
        Table(
            (
                "metric",
                "before [95% CI]",
                "after [95% CI]",
                "change, points [95% CI]",
                "judged",
                "n",
                "target",
            ),
            table_rows,
        ),
    ]
    blocks += _judge_notes(before, after)
    if before is None or after is None:
        blocks.append(_eval_missing_note(run, "before/after comparison"))
    return Section("task", "Task metrics", blocks)


def _judge_notes(before: TaskResult | None, after: TaskResult | None) -> list[Block]:
    """One line per judge and side: who judged, and the items left unjudged (unparsable)."""
    notes: list[Block] = []
    for side, task in (("before", before), ("after", after)):
        for name, judge in ((task.judges or {}) if task else {}).items():
            ids = ", ".join(judge.unjudged_ids[:10]) + (" ..." if judge.unjudged > 10 else "")
            unjudged = f"{judge.unjudged} unjudged ({ids}): no verdict could be read" if ids else ""
            notes.append(
                Text(
                    f"judge:{name} {side} ({judge.mode}, {judge.judge}): {judge.judged} judged"
                    + (f", {unjudged}; left out of the score" if unjudged else "")
                    + f"; {judge.requests} requests, {judge.cached} from the cache.",
                    note=True,
                )
            )
    return notes


def _benchmark_rows(run: RunData) -> tuple[list[ScoreRow], list[tuple[Cell, ...]]]:
    before = run.before.benchmarks if run.before else {}
    after = run.after.benchmarks if run.after else {}
    deltas = run.deltas
    rows: list[ScoreRow] = []
    table_rows: list[tuple[Cell, ...]] = []
    for bench in dict.fromkeys([*before, *after]):
        b_section, a_section = before.get(bench), after.get(bench)
        primary = primary_metric(b_section, a_section)
        for metric in _metric_names(b_section, a_section):
            b, a = entry(b_section, metric), entry(a_section, metric)
            delta = deltas.get(bench) if metric == primary else None
            short = bench.removeprefix("builtin:")
            rows.append(ScoreRow(f"{short}: {metric}", Score.from_entry(b), Score.from_entry(a)))
            label = f"{metric} (primary)" if metric == primary else metric
            n = item_count(delta) or item_count(a) or item_count(b)
            role = deltas[bench].role if bench in deltas else "-"
            table_rows.append(
                (
                    bench,
                    role,
                    label,
                    score_text(b),
                    score_text(a),
                    *change_cells(delta, b, a),
                    count(n),
                )
            )
    return rows, table_rows


def _benchmark_section(run: RunData) -> Section:
    title = "Benchmarks"
    rows, table_rows = _benchmark_rows(run)
    if not rows:
        return Section("benchmarks", title, [_eval_missing_note(run, "benchmarks")])
    return Section(
        "benchmarks",
        title,
        [
            Text(
                "A benchmark in the role of task measures the goal (goal.task_metrics); guards "
                "check that general ability survived the fine-tune. The primary metric's change is "
                f"judged with a paired bootstrap interval from {run.file('verdict')}; other "
                "changes are plain differences of the means.",
                note=True,
            ),
            Chart("chart-benchmarks", _alt("Benchmark scores", rows), before_after_png(rows)),
            Table(
                (
                    "benchmark",
                    "role",
                    "metric",
                    "before [95% CI]",
                    "after [95% CI]",
                    "change, points [95% CI]",
                    "judged",
                    "n",
                ),
                table_rows,
            ),
        ],
    )


def _failed_checks(item: ScoredItem, shown: bool) -> list[str]:
    if not shown:
        return []
    return ["; ".join(item.style_failed) if item.style_failed else "none"]


def _item_change(before: ScoredItem, after: ScoredItem) -> ItemChange | None:
    b_metrics, a_metrics = before.metrics, after.metrics
    shared = [m for m in b_metrics if m in a_metrics]
    pairs = [(a_metrics[m], b_metrics[m]) for m in shared]
    diffs = [a - b for a, b in pairs if finite(a) and finite(b) and a != b]
    if not diffs:
        return None
    kind = "improved" if min(diffs) > 0 else "regressed" if max(diffs) < 0 else "mixed"
    # which style checks failed on each side says why style_pass moved
    checks = before.style_failed is not None or after.style_failed is not None
    table = Table(
        ("", *shared, *(["failed style checks"] if checks else [])),
        [
            (label, *(value_text(side.metrics[m]) for m in shared), *_failed_checks(side, checks))
            for label, side in (("before", before), ("after", after))
        ],
    )
    return ItemChange(
        before.id if before.id is not None else "?",
        Badge(kind, ITEM_TONES[kind]),
        _clip(before.prompt),
        _clip(before.output),
        _clip(after.output),
        table,
    )


def _items_section(run: RunData) -> Section:
    title = "Changed task items"
    before_items = run.before.task.items if run.before and run.before.task else []
    after_items = {i.id: i for i in (run.after.task.items if run.after and run.after.task else [])}
    if not before_items or not after_items:
        return Section("items", title, [_eval_missing_note(run, "per-item outputs")])
    changes = [
        change
        for item in before_items
        if item.id in after_items
        and (change := _item_change(item, after_items[item.id])) is not None
    ]
    order = list(ITEM_TONES)
    changes.sort(key=lambda c: order.index(c.change.text))
    counts = ", ".join(
        f"{sum(c.change.text == kind for c in changes)} {kind}"
        for kind in ("improved", "regressed", "mixed")
    )
    blocks: list[Block] = [
        Text(
            f"{len(changes)} of {len(before_items)} items changed their "
            f"metrics ({counts}); regressions first, unchanged items omitted."
        )
    ]
    blocks.extend(changes[:MAX_ITEMS])
    if len(changes) > MAX_ITEMS:
        blocks.append(
            Text(
                f"... and {len(changes) - MAX_ITEMS} more changed items; see "
                f"{run.file('before')} and {run.file('after')}.",
                note=True,
            )
        )
    return Section("items", title, blocks)


def _sections(run: RunData) -> list[Section]:
    return [
        _verdict_section(run),
        _task_section(run),
        _benchmark_section(run),
        loss_section(run),
        diagnosis_section(run),
        cost_section(run),
        setup_section(run),
        flips_section(run),
        _items_section(run),
    ]


def _header_facts(run: RunData) -> list[tuple[str, str]]:
    trained = run.metrics.model.name_or_path if run.metrics else None
    status = run.status.status if run.status else None  # 'running' while the pipeline writes it
    purpose = run.verdict.purpose if run.verdict else None
    facts = [
        ("folder", run.path.name),
        ("model", trained or get(run.config, "model", "name_or_path")),
        ("status", status if status != "running" else None),
        ("purpose", purpose or get(run.config, "goal", "purpose")),
        ("goal", get(run.config, "goal", "description")),
    ]
    return [(key, str(value)) for key, value in facts if value]


def build_report(run: RunData) -> Report:
    """The whole report of one run, in reading order: verdict, task, benchmarks, loss, diagnosis,
    cost, setup, changed items."""
    html_name = run.folder.report_html_path.name
    return Report(run.name, _header_facts(run), _sections(run), run.path.name, html_name)
