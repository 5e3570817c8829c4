"""The run page's evidence tables: scores before and after with intervals, and the items paired
by id so the page can show which answers got better or worse."""

from __future__ import annotations

from goaltune.format import finite, get, score_text
from goaltune.report.inputs import Json, RunData, entry, primary_metric
from goaltune.run_folder import BenchmarkResult, EvalResult, ScoredItem, ScoredSet
from goaltune.ui.catalog import adapter_files
from goaltune.ui.views import audit, config_text, delta_text, errors, flat_metrics, status_text


def _sections(run: RunData) -> dict[str, tuple[ScoredSet | None, ScoredSet | None]]:
    """Section name ('task' or a benchmark) -> (before, after), in the order the files list them."""
    sides: list[EvalResult | None] = [run.before, run.after]
    names = dict.fromkeys(name for side in sides if side for name, _ in side.sections())
    found = {side_no: dict(side.sections()) for side_no, side in enumerate(sides) if side}
    return {name: (found.get(0, {}).get(name), found.get(1, {}).get(name)) for name in names}


def _primary(*sets: ScoredSet | None) -> str | None:
    return primary_metric(*(s for s in sets if isinstance(s, BenchmarkResult)))


def scores(run: RunData) -> list[Json]:
    """One row per section and metric: before and after with 95% intervals, the verdict's change
    in points, its target and whether the target was reached."""
    deltas = run.deltas
    rows = []
    for section, (before, after) in _sections(run).items():
        metrics = dict.fromkeys(
            [*(before.metrics if before else {}), *(after.metrics if after else {})]
        )
        primary = _primary(before, after)
        for metric in metrics:
            judged = deltas.get(metric if section == "task" else section)
            if section != "task" and metric != primary:
                judged = None
            rows.append(
                {
                    "section": section,
                    "metric": metric,
                    "before": score_text(entry(before, metric)),
                    "after": score_text(entry(after, metric)),
                    "delta": delta_text(judged) if judged else "",
                    "change": judged.change if judged else "",
                    "target": judged.target if judged else None,
                    "reached": judged.target_reached if judged else None,
                }
            )
    return rows


def _judged_metric(run: RunData, section: str, sets: tuple[ScoredSet | None, ...]) -> str | None:
    """The per-item metric that says whether an item got better: the benchmark's primary metric,
    or the goal's first task metric (else the task's first metric)."""
    if section != "task":
        return _primary(*sets)
    goals = [str(g.get("name")) for g in get(run.config, "goal", "task_metrics") or []]
    known = [m for s in sets if s for m in s.metrics]
    return next((g for g in goals if g in known), known[0] if known else None)


def _change(before: ScoredItem | None, after: ScoredItem | None, metric: str | None) -> str:
    b = before.metrics.get(metric) if before and metric else None
    a = after.metrics.get(metric) if after and metric else None
    if not finite(a) or not finite(b) or a == b:
        return "same"
    return "better" if a > b else "worse"


def items(run: RunData) -> list[Json]:
    """Every evaluated item with its before and after answers, paired by id, and whether its
    judged metric got better, worse or stayed the same."""
    rows = []
    for section, sets in _sections(run).items():
        metric = _judged_metric(run, section, sets)
        before = {item.id: item for item in (sets[0].items if sets[0] else [])}
        for number, after_item in enumerate(sets[1].items if sets[1] else []):
            before_item = before.get(after_item.id)
            rows.append(
                {
                    "section": section,
                    "id": after_item.id or str(number),
                    "metric": metric,
                    "prompt": after_item.prompt or "",
                    "reference": "" if after_item.reference is None else str(after_item.reference),
                    "before": before_item.output if before_item else None,
                    "after": after_item.output or "",
                    "before_score": before_item.metrics.get(metric)
                    if before_item and metric
                    else None,
                    "after_score": after_item.metrics.get(metric) if metric else None,
                    "change": _change(before_item, after_item, metric),
                }
            )
    return rows


def run_page(run_id: str, run: RunData) -> Json:
    """Everything the run page shows, from one read of the folder."""
    folder = run.folder
    return {
        "id": run_id,
        "run": run,
        "name": run.name,
        "status_text": status_text(run),
        "errors": errors(run),
        "missing": [name for name, why in run.problems.items() if why == "missing"],
        "verdict": run.verdict,
        "scores": scores(run),
        "flips": run.verdict.flips if run.verdict else [],
        "findings": run.verdict.findings if run.verdict else [],
        "audit": audit(folder),
        "items": items(run),
        "config": config_text(run),
        "metrics": flat_metrics(run),
        "adapter_files": adapter_files(folder),
        "report": folder.report_html_path.is_file(),
        "report_name": folder.relative(folder.report_html_path),
    }
