"""Compare runs: `goaltune runs` lists run folders; `goaltune compare` shows what one varied factor
(lora.r, epochs, learning rate, model, data or any config path) changed.

Every figure is read from the run folders' own files and formatted by the run report's helpers, so
a comparison and each run's report agree. Two runs are compared on one factor only when their
resolved configs differ in nothing else; otherwise the comparison is flagged as confounded and
names the other differing keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from goaltune.config import resolve_key_path
from goaltune.errors import ConfigError, RunError
from goaltune.report.content import (
    RunData,
    _change_cells,
    _count,
    _deltas,
    _duration,
    _get,
    _memory,
    _parameters,
    _throughput,
    _value,
    load_run,
    score_text,
)
from goaltune.report.plots import Score, ScoreRow, before_after_png, loss_curve_png, series
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
from goaltune.runs import atomic_write_text, create_run_dir, utc_now, write_json

IGNORED_KEYS = ("name", "output_dir")
Json = dict[str, Any]


# ---------------------------------------------------------------- finding runs


def is_run_dir(path: Path) -> bool:
    """A folder goaltune wrote for one run (it has config.yaml or status.json)."""
    return path.is_dir() and any((path / n).is_file() for n in ("config.yaml", "status.json"))


def _started(path: Path) -> float:
    config = path / "config.yaml"
    return (config if config.is_file() else path).stat().st_mtime


def find_runs(root: Path, depth: int = 2) -> list[Path]:
    """Run folders in `root` and in folders holding runs (sweeps), oldest first; others skipped."""
    if not root.is_dir():
        raise RunError(f"{root}: no such runs folder")
    found: list[Path] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if is_run_dir(child):
            found.append(child)
        elif depth > 1:
            found += find_runs(child, depth - 1)
    return sorted(found, key=_started)


def expand_runs(args: list[str | Path], output_dir: str | Path = "runs") -> list[Path]:
    """Run folders from paths or names; a folder holding runs (a sweep) stands for all of them."""
    from goaltune.runs import resolve_run_dir

    runs: list[Path] = []
    for arg in args:
        path = resolve_run_dir(arg, output_dir)
        runs += [path] if is_run_dir(path) else find_runs(path, depth=1)
    if not runs:
        raise RunError(f"no run folders in {', '.join(str(a) for a in args)}")
    return list(dict.fromkeys(runs))


# ---------------------------------------------------------------- configs and factors


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> Json:
    """Dotted key paths of a nested config -> leaf values (lists stay whole)."""
    flat: Json = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _covers(factor: str, key: str) -> bool:
    return key == factor or key.startswith(f"{factor}.")


def factor_path(group_by: str) -> str:
    """The config path a --group-by names: model, dataset, a short key or a dotted path."""
    return "model.name_or_path" if group_by == "model" else resolve_key_path(group_by)


@dataclass
class ComparedRun:
    """One run of a comparison: its files, a short label and its flattened config."""

    data: RunData
    label: str
    flat: Json

    def value(self, factor: str) -> Any:
        """The run's value of a config key (a dict of values when it names a section)."""
        if factor in self.flat:
            return self.flat[factor]
        return {k[len(factor) + 1 :]: v for k, v in self.flat.items() if _covers(factor, k)}

    def differs_from(self, other: ComparedRun) -> list[str]:
        """Config keys with different values in the two runs (name, output_dir ignored)."""
        keys = dict.fromkeys([*self.flat, *other.flat])
        return [
            k
            for k in keys
            if k not in IGNORED_KEYS and _canon(self.flat.get(k)) != _canon(other.flat.get(k))
        ]


def differing_keys(runs: list[ComparedRun]) -> list[str]:
    """Config keys whose values are not the same in every run."""
    keys = {key for run in runs[1:] for key in run.differs_from(runs[0])}
    order = list(dict.fromkeys(key for run in runs for key in run.flat))
    return sorted(keys, key=order.index)


def _labels(runs: list[RunData]) -> list[str]:
    names = [run.name for run in runs]
    unique = len(set(names)) == len(names)
    return names if unique else [run.path.name for run in runs]


def load_runs(run_dirs: list[Path]) -> list[ComparedRun]:
    """Read every run folder (missing files are tolerated, as in the run report)."""
    data = [load_run(path) for path in run_dirs]
    return [
        ComparedRun(run, label, flatten(run.config or {}))
        for run, label in zip(data, _labels(data))
    ]


# ---------------------------------------------------------------- figures


def after_score(run: RunData, name: str) -> float | None:
    """A task metric's after score, or a benchmark's primary-metric after score."""
    task = _get(run.after, "task", "metrics", name, "score")
    if task is not None:
        return task
    primary = _get(run.after, "benchmarks", name, "primary_metric")
    return _get(run.after, "benchmarks", name, "metrics", primary, "score") if primary else None


def task_metrics(runs: list[ComparedRun]) -> list[str]:
    """Task metric names over all runs, in order of appearance."""
    names: dict[str, None] = {}
    for run in runs:
        for side in (run.data.before, run.data.after):
            names.update(dict.fromkeys(_get(side, "task", "metrics") or {}))
    return list(names)


def benchmarks(runs: list[ComparedRun]) -> list[str]:
    """Benchmark names over all runs, in order of appearance."""
    names: dict[str, None] = {}
    for run in runs:
        for side in (run.data.before, run.data.after):
            names.update(dict.fromkeys(_get(side, "benchmarks") or {}))
    return list(names)


def goal_task_metrics(runs: list[ComparedRun]) -> list[str]:
    """The first run's goal task metrics (names)."""
    goals = _get(runs[0].data.config, "goal", "task_metrics") or []
    return [str(g.get("name")) for g in goals if isinstance(g, Mapping)]


def goal_metrics(runs: list[ComparedRun]) -> list[str]:
    """The metrics the summary compares: the goal's task metrics (else all), then benchmarks."""
    goals = goal_task_metrics(runs)
    return list(dict.fromkeys([*(goals or task_metrics(runs)), *benchmarks(runs)]))


def _delta_text(delta: Any) -> str:
    return f"{delta['delta_points']:+.1f} {delta['name']}" if isinstance(delta, Mapping) else "-"


def first_task_delta(run: RunData) -> str:
    """'+67.0 json_valid': the verdict's first task delta in points."""
    deltas = [d for d in _deltas(run).values() if d.get("role") == "task"]
    return _delta_text(deltas[0] if deltas else None)


def worst_guard(run: RunData) -> str:
    """'-4.0 builtin:ifeval-mini': the guard benchmark with the lowest delta in points."""
    guards = [
        d
        for d in _deltas(run).values()
        if d.get("role") == "guard" and isinstance(d.get("delta_points"), (int, float))
    ]
    return _delta_text(min(guards, key=lambda d: d["delta_points"]) if guards else None)


def cost(run: RunData) -> Json:
    """A run's cost figures exactly as its files hold them."""
    metrics = run.metrics or {}
    return {
        "train_time_s": metrics.get("train_time_s"),
        "wall_time_s": metrics.get("wall_time_s"),
        "peak_memory_mib": _get(metrics, "memory", "peak_memory_mib"),
        "tokens_per_second": _get(metrics, "loss", "tokens_per_second"),
        "trainable_parameters": _get(metrics, "model", "parameters", "trainable"),
        "eval_before_s": _get(run.before, "elapsed_s"),
        "eval_after_s": _get(run.after, "elapsed_s"),
    }


# ---------------------------------------------------------------- pairs


@dataclass
class Pair:
    """A run set against a reference run: the factor's values and what changed."""

    run: ComparedRun
    reference: ComparedRun
    factor: str | None
    differs: list[str]
    context: list[str]
    changes: dict[str, float | None]
    time_ratio: float | None

    @property
    def confounders(self) -> list[str]:
        """Keys besides the factor in which the two runs differ."""
        return [k for k in self.differs if self.factor and not _covers(self.factor, k)]

    def _values(self, key: str) -> str:
        return f"{_value(self.run.value(key))} vs {_value(self.reference.value(key))}"

    def _head(self) -> str:
        if self.factor is None:
            varied = "; ".join(f"{k} {self._values(k)}" for k in self.differs) or "same config"
            return f"{self.run.label} vs {self.reference.label} ({varied})"
        head = f"{self.factor} {self._values(self.factor)}"
        if self.confounders:
            others = ", ".join(f"{k} {self._values(k)}" for k in self.confounders)
            return f"{head} (confounded: also {others})"
        fixed = ", ".join(f"{k}={_value(self.run.value(k))}" for k in self.context)
        return f"{head} (at {fixed})" if fixed else head

    def text(self) -> str:
        """E.g. 'lora.r 64 vs 16: +2.0 points json_valid, -6.0 points builtin:mc-mini, 1.3x
        time'."""
        parts = [f"{v:+.1f} points {name}" for name, v in self.changes.items() if v is not None]
        if self.time_ratio is not None:
            parts.append(f"{self.time_ratio:.1f}x time")
        verdicts = [_get(r.data.verdict, "verdict") for r in (self.run, self.reference)]
        if verdicts[0] != verdicts[1]:
            parts.append(f"verdict {verdicts[0] or '-'} vs {verdicts[1] or '-'}")
        return f"{self._head()}: {', '.join(parts) or 'no comparable figures'}"

    def to_dict(self) -> Json:
        return {
            "run": self.run.label,
            "reference": self.reference.label,
            "varied": [k for k in self.differs if k not in self.confounders],
            "confounded_by": {
                k: [self.run.value(k), self.reference.value(k)] for k in self.confounders
            },
            "changes_points": self.changes,
            "time_ratio": self.time_ratio,
            "summary": self.text(),
        }


def _ratio(a: Any, b: Any) -> float | None:
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    return round(a / b, 4) if numbers and b > 0 else None


def make_pair(
    run: ComparedRun,
    reference: ComparedRun,
    factor: str | None,
    metrics: list[str],
    context: list[str],
) -> Pair:
    """Compare `run` with `reference` on after scores (points) and training time."""
    changes = {}
    for name in metrics:
        a, b = after_score(run.data, name), after_score(reference.data, name)
        changes[name] = round(100 * (a - b), 4) if a is not None and b is not None else None
    ratio = _ratio(cost(run.data)["train_time_s"], cost(reference.data)["train_time_s"])
    return Pair(run, reference, factor, run.differs_from(reference), context, changes, ratio)


def _reference_value(runs: list[ComparedRun], factor: str) -> Any:
    """The smallest factor value when all are numbers, else the first run's."""
    values = [run.value(factor) for run in runs]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return min(values) if numeric else values[0]


def make_pairs(runs: list[ComparedRun], factor: str | None, differing: list[str]) -> list[Pair]:
    """Each run against its reference: with a factor, the reference-valued run that differs least
    (the same config but the factor when the grid has one); without, the first run."""
    metrics = goal_metrics(runs)
    if factor is None:
        return [make_pair(run, runs[0], None, metrics, []) for run in runs[1:]]
    reference = _canon(_reference_value(runs, factor))
    references = [run for run in runs if _canon(run.value(factor)) == reference]
    context = [k for k in differing if not _covers(factor, k)]
    pairs = []
    for run in runs:
        if _canon(run.value(factor)) == reference:
            continue
        best = min(references, key=lambda ref: len(run.differs_from(ref)))
        pairs.append(make_pair(run, best, factor, metrics, context))
    return pairs


# ---------------------------------------------------------------- the comparison


@dataclass
class Comparison:
    """Runs, the grouped factor (if any), the keys that differ, the pairs and notes."""

    runs: list[ComparedRun]
    factor: str | None
    differing: list[str]
    pairs: list[Pair]
    notes: list[str]

    @property
    def confounded(self) -> list[Pair]:
        return [pair for pair in self.pairs if pair.confounders]


def _check_factor(runs: list[ComparedRun], factor: str, group_by: str) -> None:
    if not any(_covers(factor, key) for run in runs for key in run.flat):
        raise ConfigError(f"--group-by {group_by}: no such key in the runs' config.yaml")


def _notes(runs: list[ComparedRun], factor: str | None, differing: list[str]) -> list[str]:
    notes = [
        f"{run.label} is {_get(run.data.status, 'status') or 'unknown'}: figures its "
        "folder lacks are shown as '-'."
        for run in runs
        if _get(run.data.status, "status") != "finished"
    ]
    if factor is None and len(differing) > 1:
        notes.append(
            f"The runs differ in {len(differing)} keys ({', '.join(differing)}); pass "
            "--group-by KEY to compare one factor and flag confounded pairs."
        )
    if factor and len({_canon(run.value(factor)) for run in runs}) == 1:
        notes.append(f"Every run has the same {factor}; there is nothing to compare on it.")
    return notes


def compare_runs(run_dirs: list[Path], group_by: str | None = None) -> Comparison:
    """Read the runs and set each against its reference on the factor `group_by`; without it,
    the factor is the one config key the runs differ in, if there is exactly one."""
    if len(run_dirs) < 2:
        raise RunError("compare needs at least two runs")
    runs = load_runs(run_dirs)
    differing = differing_keys(runs)
    factor = factor_path(group_by) if group_by else None
    if factor:
        _check_factor(runs, factor, group_by or "")
    elif len(differing) == 1:
        factor = differing[0]
    return Comparison(
        runs,
        factor,
        differing,
        make_pairs(runs, factor, differing),
        _notes(runs, factor, differing),
    )


# ---------------------------------------------------------------- report sections


def _verdict_cell(run: RunData) -> Cell:
    verdict = _get(run.verdict, "verdict")
    if not verdict:
        return "-"
    caution = " (caution)" if _get(run.verdict, "caution") else ""
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
            *(_value(run.value(k)) for k in keys),
            _get(run.data.status, "status") or "unknown",
            _verdict_cell(run.data),
            str(_get(run.data.verdict, "headline") or "-"),
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
    chart, table = [], []
    for name in names:
        for run in c.runs:
            before, after, metric = _entries(run.data, name, bench)
            if before is None and after is None:
                continue
            delta = _deltas(run.data).get(name)
            if delta is not None and (delta.get("role") == "guard") != bench:
                delta = None
            label = f"{run.label}: {name.removeprefix('builtin:')}"
            chart.append(ScoreRow(label, Score.from_entry(before), Score.from_entry(after)))
            n = _get(delta, "n") or _get(after, "n") or _get(before, "n")
            source = (name, f"{metric} (primary)") if bench else (name,)
            table.append(
                (
                    *source,
                    run.label,
                    score_text(before),
                    score_text(after),
                    *_change_cells(delta, before, after),
                    _count(n),
                )
            )
    return chart, table


def _entries(run: RunData, name: str, bench: bool) -> tuple[Any, Any, str]:
    """(before entry, after entry, metric) of a task metric or a benchmark's primary metric."""
    if not bench:
        return (
            _get(run.before, "task", "metrics", name),
            _get(run.after, "task", "metrics", name),
            name,
        )
    metric = _get(run.before, "benchmarks", name, "primary_metric") or _get(
        run.after, "benchmarks", name, "primary_metric"
    )
    return (
        _get(run.before, "benchmarks", name, "metrics", metric),
        _get(run.after, "benchmarks", name, "metrics", metric),
        str(metric),
    )


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


def _loss_section(c: Comparison) -> Section:
    histories = {run.label: run.data.history for run in c.runs if run.data.history}
    if not histories:
        return Section("loss", "Loss curves", [Text("No run has a loss history.", note=True)])
    rows = []
    for label, history in histories.items():
        _, train = series(history, "train_loss")
        _, val = series(history, "val_loss")
        rows.append(
            (
                label,
                f"{train[-1]:.4f}" if train else "-",
                f"{min(val):.4f}" if val else "-",
                _count(len(train)),
            )
        )
    alt = f"Train and validation loss per optimizer step of {len(histories)} runs, overlaid."
    return Section(
        "loss",
        "Loss curves",
        [
            Chart("chart-loss", alt, loss_curve_png(histories)),
            Table(("run", "final train loss", "best validation loss", "logged steps"), rows),
        ],
    )


def _cost_section(c: Comparison) -> Section:
    rows = []
    for run in c.runs:
        metrics, figures = run.data.metrics or {}, cost(run.data)
        rows.append(
            (
                run.label,
                _duration(figures["train_time_s"]),
                _memory(metrics),
                _throughput(metrics.get("loss") or {}),
                _parameters(_get(metrics, "model", "parameters") or {}),
                (f"{_duration(figures['eval_before_s'])} / {_duration(figures['eval_after_s'])}"),
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
        _loss_section(c),
        _cost_section(c),
    ]
    return Report("Comparison", facts, sections, source, html_name="comparison.html")


# ---------------------------------------------------------------- outputs


def _run_json(run: ComparedRun, c: Comparison) -> Json:
    data = run.data
    task = {
        m: {
            "before": _get(data.before, "task", "metrics", m),
            "after": _get(data.after, "task", "metrics", m),
        }
        for m in task_metrics(c.runs)
    }
    bench = {}
    for name in benchmarks(c.runs):
        before, after, metric = _entries(data, name, bench=True)
        bench[name] = {"primary_metric": metric, "before": before, "after": after}
    return {
        "label": run.label,
        "run_dir": str(data.path),
        "status": _get(data.status, "status"),
        "verdict": _get(data.verdict, "verdict"),
        "factor_value": run.value(c.factor) if c.factor else None,
        "config": {k: run.value(k) for k in c.differing},
        "task": task,
        "benchmarks": bench,
        "deltas": _get(data.verdict, "deltas") or [],
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
    report = comparison_report(c, out_dir.name)
    write_json(out_dir / "comparison.json", comparison_json(c))
    atomic_write_text(out_dir / "comparison.html", render_html(report))
    atomic_write_text(out_dir / "comparison.md", render_markdown(report))
    return [out_dir / name for name in ("comparison.html", "comparison.md", "comparison.json")]


# ---------------------------------------------------------------- terminal


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
        factor = [_value(run.value(c.factor))] if c.factor else []
        table.add_row(
            run.label,
            *factor,
            _get(run.data.status, "status") or "unknown",
            _get(run.data.verdict, "verdict") or "-",
            first_task_delta(run.data),
            worst_guard(run.data),
            _duration(cost(run.data)["train_time_s"]),
        )
    console.print(table)
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


def _short(value: Any) -> str:
    text = _value(value)
    return Path(text).name if "/" in text and Path(text).exists() else text


def _epochs(config: Json) -> str:
    steps = _get(config, "train", "max_steps")
    return f"{steps} steps" if steps else _value(_get(config, "train", "num_train_epochs"))


def _time(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"


def run_row(run_dir: Path, root: Path) -> tuple[str, ...]:
    """One line of `goaltune runs`."""
    run = load_run(run_dir)
    config = run.config or {}
    verdict = _get(run.verdict, "verdict") or "-"
    return (
        str(run_dir.relative_to(root)),
        _short(_get(config, "model", "name_or_path")),
        _short(_get(config, "data", "train")),
        _value(_get(config, "lora", "r")),
        _epochs(config),
        _value(_get(config, "train", "learning_rate")),
        _get(run.status, "status") or "unknown",
        verdict + (" (caution)" if _get(run.verdict, "caution") else ""),
        first_task_delta(run),
        worst_guard(run),
        _time(cost(run)["wall_time_s"]),
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
