"""The run report's content: the sections of one run, built from what `load_run` read.

Every input is optional: a section whose files are missing or unreadable says which and why.
The verdict, task and benchmark scores and changed items are here; the training sections (loss,
diagnosis, cost, setup) are in `sections_training`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from goaltune.format import count, finite, get, pct, points, score_text, value_text
from goaltune.report.inputs import RunData
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
    status = get(run.status, "status") or "unknown"
    reason = get(run.status, "reason")
    return f"Run status: {status}" + (f" ({reason})." if reason else ".")


def _verdict_section(run: RunData) -> Section:
    verdict = run.verdict
    if verdict is None:
        why = run.missing("verdict.json")
        if run.problems.get("verdict.json") == "missing":
            why += " (a train-only run, or the run stopped before it was judged)"
        banner = Banner(None, False, f"No verdict: {why}.", [_status_line(run)])
        blocks: list[Block] = [banner]
    else:
        reasons = [str(r) for r in verdict.get("reasons") or []]
        blocks = [
            Banner(
                str(verdict.get("verdict", "?")),
                bool(verdict.get("caution")),
                str(verdict.get("headline", "")),
                reasons,
            )
        ]
        if verdict.get("recommendations"):
            blocks.append(Bullets([str(r) for r in verdict["recommendations"]], "Recommendations"))
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


def change_cells(delta: Mapping[str, Any] | None, before: Any, after: Any) -> tuple[Cell, Cell]:
    """(change in points with its paired CI, judged badge) from a verdict delta, else a plain
    difference of the means."""
    if delta is None:
        b, a = get(before, "score"), get(after, "score")
        return (points(100 * (a - b)) if finite(a) and finite(b) else "-"), "-"
    text = (
        f"{points(delta.get('delta_points'))} [{points(delta.get('ci_low_points'))}, "
        f"{points(delta.get('ci_high_points'))}]"
    )
    change = str(delta.get("change", "-"))
    return text, Badge(change, CHANGE_TONES.get(change, "muted"))


def _target_cell(target: Any, after: Any) -> Cell:
    if not finite(target):
        return "-"
    score = get(after, "score")
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
    why = run.missing("eval/before.json", "eval/after.json")
    return Text(
        f"No {what} to show" + (f": {why}." if why else " in the evaluation files."), note=True
    )


def _metric_names(*sections: Any) -> list[str]:
    names: dict[str, None] = {}
    for section in sections:
        names.update(dict.fromkeys(get(section, "metrics") or {}))
    return list(names)


def _task_section(run: RunData) -> Section:
    before, after = get(run.before, "task"), get(run.after, "task")
    names = _metric_names(before, after)
    if not names:
        return Section("task", "Task metrics", [_eval_missing_note(run, "task metrics")])
    deltas, targets = run.deltas, _goal_targets(run)
    rows: list[ScoreRow] = []
    table_rows: list[tuple[Cell, ...]] = []
    for name in names:
        b, a = get(before, "metrics", name), get(after, "metrics", name)
        delta = deltas.get(name) if get(deltas.get(name), "role") == "task" else None
        target = get(delta, "target") if finite(get(delta, "target")) else targets.get(name)
        rows.append(ScoreRow(name, Score.from_entry(b), Score.from_entry(a), target))
        n = get(delta, "n") or get(a, "n") or get(b, "n")
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
    task_name = get(before, "name") or get(after, "name") or "task"
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
    if before is None or after is None:
        blocks.append(_eval_missing_note(run, "before/after comparison"))
    return Section("task", "Task metrics", blocks)


def _benchmark_rows(run: RunData) -> tuple[list[ScoreRow], list[tuple[Cell, ...]]]:
    before, after = get(run.before, "benchmarks") or {}, get(run.after, "benchmarks") or {}
    deltas = run.deltas
    rows: list[ScoreRow] = []
    table_rows: list[tuple[Cell, ...]] = []
    for bench in dict.fromkeys([*before, *after]):
        b_section, a_section = before.get(bench), after.get(bench)
        primary = get(b_section, "primary_metric") or get(a_section, "primary_metric")
        for metric in _metric_names(b_section, a_section):
            b, a = get(b_section, "metrics", metric), get(a_section, "metrics", metric)
            delta = deltas.get(bench) if metric == primary else None
            short = bench.removeprefix("builtin:")
            rows.append(ScoreRow(f"{short}: {metric}", Score.from_entry(b), Score.from_entry(a)))
            label = f"{metric} (primary)" if metric == primary else metric
            n = get(delta, "n") or get(a, "n") or get(b, "n")
            role = get(deltas.get(bench), "role") or "-"
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
                "judged with a paired bootstrap interval from verdict.json; other changes are "
                "plain differences of the means.",
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


def _item_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> ItemChange | None:
    b_metrics, a_metrics = before.get("metrics") or {}, after.get("metrics") or {}
    shared = [m for m in b_metrics if m in a_metrics]
    diffs = [
        a_metrics[m] - b_metrics[m]
        for m in shared
        if finite(a_metrics[m]) and finite(b_metrics[m]) and a_metrics[m] != b_metrics[m]
    ]
    if not diffs:
        return None
    kind = "improved" if min(diffs) > 0 else "regressed" if max(diffs) < 0 else "mixed"
    table = Table(
        ("", *shared),
        [
            ("before", *(value_text(b_metrics[m]) for m in shared)),
            ("after", *(value_text(a_metrics[m]) for m in shared)),
        ],
    )
    return ItemChange(
        str(before.get("id", "?")),
        Badge(kind, ITEM_TONES[kind]),
        _clip(before.get("prompt")),
        _clip(before.get("output")),
        _clip(after.get("output")),
        table,
    )


def _items_section(run: RunData) -> Section:
    title = "Changed task items"
    before_items = [i for i in get(run.before, "task", "items") or [] if isinstance(i, Mapping)]
    after_items = {
        i.get("id"): i for i in get(run.after, "task", "items") or [] if isinstance(i, Mapping)
    }
    if not before_items or not after_items:
        return Section("items", title, [_eval_missing_note(run, "per-item outputs")])
    changes = [
        change
        for item in before_items
        if item.get("id") in after_items
        and (change := _item_change(item, after_items[item["id"]])) is not None
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
                "eval/before.json and eval/after.json.",
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
    model = get(run.metrics, "model", "name_or_path") or get(run.config, "model", "name_or_path")
    status = get(run.status, "status")  # 'running' while the pipeline itself writes the report
    facts = [
        ("folder", run.path.name),
        ("model", model),
        ("status", status if status != "running" else None),
        ("purpose", get(run.verdict, "purpose") or get(run.config, "goal", "purpose")),
        ("goal", get(run.config, "goal", "description")),
    ]
    return [(key, str(value)) for key, value in facts if value]


def build_report(run: RunData) -> Report:
    """The whole report of one run, in reading order: verdict, task, benchmarks, loss, diagnosis,
    cost, setup, changed items."""
    return Report(run.name, _header_facts(run), _sections(run), run.path.name)
