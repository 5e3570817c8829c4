"""The report's content: read the run folder's files and turn them into sections of blocks.

Every input is optional: a missing or unreadable file is named in the sections that need it.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from goaltune.errors import RunError
from goaltune.report.plots import Score, ScoreRow, before_after_png, loss_curve_png, series
from goaltune.report.render import (
    Badge,
    Banner,
    Block,
    Bullets,
    Cell,
    Chart,
    Code,
    ItemChange,
    Report,
    Section,
    Table,
    Text,
)
from goaltune.runs import read_json

MAX_ITEMS = 20
MAX_OUTPUT_CHARS = 2000
MAX_EVIDENCE_VALUES = 8
CHANGE_TONES = {"gain": "good", "drop": "bad", "within noise": "muted"}
MEMORY_KINDS = {"process_peak_rss": "process peak RSS", "cuda_max_allocated": "CUDA max allocated"}
ITEM_TONES = {"regressed": "bad", "mixed": "warn", "improved": "good"}  # also the display order
DATA_FIELDS = (
    ("source", "source"),
    ("validation source", "validation_source"),
    ("format", "format"),
    ("records", "records"),
    ("train examples", "train_examples"),
    ("validation examples", "validation_examples"),
    ("max sequence length", "max_seq_length"),
    ("train on", "train_on"),
    ("truncation policy", "truncation_policy"),
)
SEVERITY_TONES = {"info": "info", "warning": "warn", "error": "bad"}
RUN_FILES = {
    "config": "config.yaml",
    "status": "status.json",
    "history": "loss_history.csv",
    "metrics": "training_metrics.json",
    "before": "eval/before.json",
    "after": "eval/after.json",
    "verdict": "verdict.json",
}

Json = dict[str, Any]
History = list[dict[str, float | None]]


# ---------------------------------------------------------------- loading


@dataclass
class RunData:
    """What the report reads from a run folder; a missing or unreadable file leaves its field None
    and an entry in `problems` (file name -> 'missing' or why it could not be read)."""

    path: Path
    config: Json | None = None
    status: Json | None = None
    history: History | None = None
    metrics: Json | None = None
    before: Json | None = None
    after: Json | None = None
    verdict: Json | None = None
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The run's name from its config or metrics, else the folder name."""
        return str(_get(self.config, "name") or _get(self.metrics, "run_name") or self.path.name)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def read_history(path: Path) -> History:
    """loss_history.csv rows with every cell parsed as a number (empty or unparsable: None)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            {key: _number(value) for key, value in row.items() if key}
            for row in csv.DictReader(handle)
        ]


def _read_mapping(path: Path) -> Json:
    if path.suffix == ".yaml":
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    else:
        value = read_json(path)
    if not isinstance(value, dict):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return value


def load_run(run_dir: Path) -> RunData:
    """Read every report input that exists in the run folder."""
    run = RunData(Path(run_dir))
    if not run.path.is_dir():
        raise RunError(f"{run.path}: no such run folder")
    for attr, name in RUN_FILES.items():
        path = run.path / name
        if not path.is_file():
            run.problems[name] = "missing"
            continue
        try:
            setattr(run, attr, read_history(path) if attr == "history" else _read_mapping(path))
        except (RunError, ValueError, TypeError, yaml.YAMLError, OSError, csv.Error) as error:
            run.problems[name] = f"unreadable ({str(error).removeprefix(f'{path}: ')})"
    return run


# ---------------------------------------------------------------- formatting


def _get(mapping: Any, *keys: str) -> Any:
    """Nested lookup that yields None through missing keys or non-mappings."""
    for key in keys:
        mapping = mapping.get(key) if isinstance(mapping, Mapping) else None
    return mapping


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def pct(value: Any) -> str:
    """A [0, 1] score as a percentage with one decimal; '-' when unknown."""
    return f"{100 * value:.1f}%" if _finite(value) else "-"


def score_text(entry: Any) -> str:
    """'31.0% [22.0, 40.0]' from an eval metric entry."""
    score = Score.from_entry(entry if isinstance(entry, Mapping) else None)
    if score is None:
        return "-"
    if score.ci_low is None or score.ci_high is None:
        return pct(score.score)
    return f"{pct(score.score)} [{100 * score.ci_low:.1f}, {100 * score.ci_high:.1f}]"


def _points(value: Any) -> str:
    return f"{value:+.1f}" if _finite(value) else "-"


def _count(value: Any) -> str:
    return f"{int(value):,}" if _finite(value) else "-"


def _duration(seconds: Any) -> str:
    if not _finite(seconds):
        return "-"
    minutes, rest = divmod(float(seconds), 60)
    return f"{int(minutes)} min {rest:.0f} s ({seconds:,.1f} s)" if minutes else f"{rest:.1f} s"


def _value(value: Any) -> str:
    """Any config or metadata value as short text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else "-"
    return str(value)


def _evidence(evidence: Any) -> str:
    if not isinstance(evidence, Mapping):
        return _value(evidence)
    parts = []
    for key, value in evidence.items():
        if isinstance(value, list) and len(value) > MAX_EVIDENCE_VALUES:
            value = [*value[:MAX_EVIDENCE_VALUES], f"... {len(value) - MAX_EVIDENCE_VALUES} more"]
        parts.append(f"{key}: {_value(value)}")
    return "; ".join(parts) or "-"


def _clip(text: Any) -> str:
    text = "" if text is None else str(text)
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return f"{text[:MAX_OUTPUT_CHARS]}\n... ({len(text) - MAX_OUTPUT_CHARS:,} more characters)"


# ---------------------------------------------------------------- sections


def _missing(run: RunData, *names: str) -> str:
    """'eval/after.json is missing' for the absent or unreadable inputs among `names`."""
    bad = [f"{name} is {run.problems[name]}" for name in names if name in run.problems]
    return "; ".join(bad)


def _status_line(run: RunData) -> str:
    status = _get(run.status, "status") or "unknown"
    reason = _get(run.status, "reason")
    return f"Run status: {status}" + (f" ({reason})." if reason else ".")


def _verdict_section(run: RunData) -> Section:
    verdict = run.verdict
    if verdict is None:
        why = _missing(run, "verdict.json")
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


def _deltas(run: RunData) -> dict[str, Json]:
    return {
        str(d.get("name")): d for d in _get(run.verdict, "deltas") or [] if isinstance(d, Mapping)
    }


def _goal_targets(run: RunData) -> dict[str, float]:
    goals = _get(run.config, "goal", "task_metrics") or []
    return {
        g["name"]: g["target"] for g in goals if isinstance(g, Mapping) and _finite(g.get("target"))
    }


def _change_cells(delta: Json | None, before: Any, after: Any) -> tuple[Cell, Cell]:
    """(change in points with its paired CI, judged badge) from a verdict delta, else a plain
    difference of the means."""
    if delta is None:
        b, a = _get(before, "score"), _get(after, "score")
        return (_points(100 * (a - b)) if _finite(a) and _finite(b) else "-"), "-"
    text = (
        f"{_points(delta.get('delta_points'))} [{_points(delta.get('ci_low_points'))}, "
        f"{_points(delta.get('ci_high_points'))}]"
    )
    change = str(delta.get("change", "-"))
    return text, Badge(change, CHANGE_TONES.get(change, "muted"))


def _target_cell(target: Any, after: Any) -> Cell:
    if not _finite(target):
        return "-"
    score = _get(after, "score")
    if not _finite(score):
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
    why = _missing(run, "eval/before.json", "eval/after.json")
    return Text(
        f"No {what} to show" + (f": {why}." if why else " in the evaluation files."), note=True
    )


def _metric_names(*sections: Any) -> list[str]:
    names: dict[str, None] = {}
    for section in sections:
        names.update(dict.fromkeys(_get(section, "metrics") or {}))
    return list(names)


def _task_section(run: RunData) -> Section:
    before, after = _get(run.before, "task"), _get(run.after, "task")
    names = _metric_names(before, after)
    if not names:
        return Section("task", "Task metrics", [_eval_missing_note(run, "task metrics")])
    deltas, targets = _deltas(run), _goal_targets(run)
    rows, table_rows = [], []
    for name in names:
        b, a = _get(before, "metrics", name), _get(after, "metrics", name)
        delta = deltas.get(name) if _get(deltas.get(name), "role") == "task" else None
        target = _get(delta, "target") if _finite(_get(delta, "target")) else targets.get(name)
        rows.append(ScoreRow(name, Score.from_entry(b), Score.from_entry(a), target))
        n = _get(delta, "n") or _get(a, "n") or _get(b, "n")
        table_rows.append(
            (
                name,
                score_text(b),
                score_text(a),
                *_change_cells(delta, b, a),
                _count(n),
                _target_cell(target, a),
            )
        )
    task_name = _get(before, "name") or _get(after, "name") or "task"
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
    before, after = _get(run.before, "benchmarks") or {}, _get(run.after, "benchmarks") or {}
    deltas = _deltas(run)
    rows, table_rows = [], []
    for bench in dict.fromkeys([*before, *after]):
        b_section, a_section = before.get(bench), after.get(bench)
        primary = _get(b_section, "primary_metric") or _get(a_section, "primary_metric")
        for metric in _metric_names(b_section, a_section):
            b, a = _get(b_section, "metrics", metric), _get(a_section, "metrics", metric)
            delta = deltas.get(bench) if metric == primary else None
            short = bench.removeprefix("builtin:")
            rows.append(ScoreRow(f"{short}: {metric}", Score.from_entry(b), Score.from_entry(a)))
            label = f"{metric} (primary)" if metric == primary else metric
            n = _get(delta, "n") or _get(a, "n") or _get(b, "n")
            role = _get(deltas.get(bench), "role") or "-"
            table_rows.append(
                (
                    bench,
                    role,
                    label,
                    score_text(b),
                    score_text(a),
                    *_change_cells(delta, b, a),
                    _count(n),
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
                "A benchmark in the role of task measures the goal (goal.task_metrics); guards check "
                "that general ability survived the fine-tune. The primary metric's change is judged "
                "with a paired bootstrap interval from verdict.json; other changes are plain "
                "differences of the means.",
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


def _loss_summary(history: History, column: str, label: str) -> tuple[Cell, ...]:
    steps, values = series(history, column)
    if not values:
        return (label, "-", "-", "-", "-")
    best = min(range(len(values)), key=values.__getitem__)
    return (
        label,
        f"{values[0]:.4f}",
        f"{values[-1]:.4f}",
        f"{values[best]:.4f}",
        _count(steps[best]),
    )


def _loss_alt(history: History) -> str:
    steps, train = series(history, "train_loss")
    _, val = series(history, "val_loss")
    text = "Loss curve"
    if train:
        text += f": train loss from {train[0]:.3f} to {train[-1]:.3f} over {len(steps)} steps"
    if val:
        text += f"; validation loss from {val[0]:.3f} to {val[-1]:.3f} at {len(val)} evaluations"
    if series(history, "learning_rate")[1]:
        text += "; learning rate in the lower panel"
    return text + "."


def _loss_section(run: RunData) -> Section:
    title = "Loss curve"
    history = run.history
    if not history:
        why = _missing(run, "loss_history.csv") or "loss_history.csv has no rows"
        return Section("loss", title, [Text(f"No loss curve: {why}.", note=True)])
    blocks: list[Block] = [
        Chart("chart-loss", _loss_alt(history), loss_curve_png({run.name: history})),
        Table(
            ("loss", "first", "final", "best", "best at step"),
            [
                _loss_summary(history, "train_loss", "train"),
                _loss_summary(history, "val_loss", "validation"),
            ],
        ),
    ]
    if not series(history, "val_loss")[1]:
        blocks.append(
            Text(
                "No validation loss was logged (no validation split, or training "
                "ended before the first evaluation step).",
                note=True,
            )
        )
    return Section("loss", title, blocks)


def _diagnosis_section(run: RunData) -> Section:
    title = "Diagnosis"
    if run.verdict is None:
        why = _missing(run, "verdict.json")
        return Section("diagnosis", title, [Text(f"No diagnosis: {why}.", note=True)])
    findings = [f for f in run.verdict.get("findings") or [] if isinstance(f, Mapping)]
    if not findings:
        return Section(
            "diagnosis",
            title,
            [Text("The loss-curve diagnosis found nothing to report.", note=True)],
        )
    rows = [
        (
            Badge(str(f.get("severity", "?")), SEVERITY_TONES.get(f.get("severity"), "muted")),
            str(f.get("kind", "-")),
            str(f.get("message", "-")),
            _evidence(f.get("evidence")),
            str(f.get("recommendation") or "-"),
        )
        for f in findings
    ]
    return Section(
        "diagnosis",
        title,
        [Table(("severity", "finding", "message", "evidence", "recommendation"), rows)],
    )


def _memory(metrics: Json) -> str:
    memory = metrics.get("memory") or {}
    if not _finite(memory.get("peak_memory_mib")):
        return "-"
    kind = MEMORY_KINDS.get(memory.get("kind"), str(memory.get("kind") or ""))
    text = f"{memory['peak_memory_mib']:,.1f} {memory.get('unit', 'MiB')}"
    return text + (f" ({kind})" if kind else "")


def _throughput(loss: Json) -> str:
    total, supervised = loss.get("tokens_per_second"), loss.get("supervised_tokens_per_second")
    if not _finite(total):
        return "-"
    text = f"{total:,.0f} tokens/s"
    return text + (f" ({supervised:,.0f} supervised tokens/s)" if _finite(supervised) else "")


def _parameters(counts: Json) -> str:
    trainable, total, share = (counts.get(k) for k in ("trainable", "total", "trainable_percent"))
    if not _finite(trainable):
        return "-"
    text = f"{_count(trainable)} of {_count(total)}"
    return text + (f" ({share:.2f}%)" if _finite(share) else "")


def _cost_rows(run: RunData) -> list[tuple[Cell, ...]]:
    metrics = run.metrics or {}
    loss = metrics.get("loss") or {}
    last = (run.history or [{}])[-1]
    steps = metrics.get("steps", last.get("step"))
    epochs = metrics.get("epochs", last.get("epoch"))
    seen, inputs = metrics.get("tokens_seen", last.get("tokens_seen")), metrics.get("input_tokens")
    rows: list[tuple[Cell, ...]] = [
        ("train time", _duration(metrics.get("train_time_s", last.get("elapsed_s")))),
        ("wall time (training incl. setup and saving)", _duration(metrics.get("wall_time_s"))),
        (
            "evaluation time before / after",
            f"{_duration(_get(run.before, 'elapsed_s'))} / {_duration(_get(run.after, 'elapsed_s'))}",
        ),
        ("peak memory", _memory(metrics)),
        ("throughput", _throughput(loss)),
        ("optimizer steps", _count(steps) + (f" ({epochs:.2f} epochs)" if _finite(epochs) else "")),
        (
            "tokens seen",
            f"{_count(seen)} supervised" + (f", {_count(inputs)} input" if _finite(inputs) else ""),
        ),
        ("trainable parameters", _parameters(_get(metrics, "model", "parameters") or {})),
        (
            "device",
            ", ".join(
                [
                    _value(metrics.get("device")),
                    f"bf16 autocast: {_value(metrics.get('bf16_autocast'))}",
                    f"torch threads: {_value(metrics.get('torch_threads'))}",
                ]
            ),
        ),
    ]
    return rows


def _cost_section(run: RunData) -> Section:
    blocks: list[Block] = [Table(("measure", "value"), _cost_rows(run))]
    if run.metrics is None:
        blocks.insert(
            0,
            Text(
                f"Training metrics unavailable: "
                f"{_missing(run, 'training_metrics.json')}; steps, tokens and time "
                "come from the loss history where it exists.",
                note=True,
            ),
        )
    return Section("cost", "Cost", blocks)


def _encoding(part: Any) -> str:
    """'319 kept, 2 truncated, dropped: none' from one split's encoding stats."""
    if not isinstance(part, Mapping):
        return "-"
    dropped = ", ".join(f"{n} {why}" for why, n in (part.get("dropped") or {}).items())
    return (
        f"{_count(part.get('kept'))} kept, {_count(part.get('truncated'))} truncated, "
        f"dropped: {dropped or 'none'}"
    )


def _data_rows(data: Json) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Cell, ...]] = [(label, _value(data.get(key))) for label, key in DATA_FIELDS]
    fingerprint = data.get("fingerprint_sha256")
    return rows + [
        ("fingerprint (sha256)", Code(str(fingerprint)) if fingerprint else "-"),
        ("train encoding", _encoding(data.get("train"))),
        ("validation encoding", _encoding(data.get("validation"))),
        (
            "supervised tokens / tokens",
            f"{_count(data.get('supervised_tokens'))} / {_count(data.get('tokens'))}",
        ),
    ]


def _hyperparameters(run: RunData) -> Json:
    from_metrics = _get(run.metrics, "hyperparameters")
    if isinstance(from_metrics, Mapping):
        return dict(from_metrics)
    return {**(_get(run.config, "lora") or {}), **(_get(run.config, "train") or {})}


def _setup_section(run: RunData) -> Section:
    model = _get(run.metrics, "model") or _get(run.config, "model") or {}
    model_rows = [
        ("model", _value(model.get("name_or_path"))),
        ("kind", _value(model.get("kind"))),
        ("dtype", _value(model.get("dtype"))),
    ]
    hyper = [(key, _value(value)) for key, value in _hyperparameters(run).items()]
    blocks: list[Block] = [
        Table(("setting", "value"), model_rows + hyper, "Model and hyperparameters")
    ]
    data = _get(run.metrics, "data")
    if isinstance(data, Mapping):
        blocks.append(Table(("data", "value"), _data_rows(data), "Data"))
    settings = _get(run.before, "settings") or _get(run.after, "settings")
    if isinstance(settings, Mapping):
        blocks.append(
            Table(
                ("setting", "value"),
                [(k, _value(v)) for k, v in settings.items()],
                "Evaluation settings",
            )
        )
    versions = _get(run.metrics, "versions")
    if isinstance(versions, Mapping):
        blocks.append(
            Table(("library", "version"), [(k, _value(v)) for k, v in versions.items()], "Versions")
        )
    if run.metrics is None:
        why = _missing(run, "training_metrics.json")
        blocks.append(Text(f"Data and versions unavailable: {why}.", note=True))
    return Section("setup", "Hyperparameters, data and versions", blocks, columns=True)


def _item_change(before: Json, after: Json) -> ItemChange | None:
    b_metrics, a_metrics = before.get("metrics") or {}, after.get("metrics") or {}
    shared = [m for m in b_metrics if m in a_metrics]
    diffs = [
        a_metrics[m] - b_metrics[m]
        for m in shared
        if _finite(a_metrics[m]) and _finite(b_metrics[m]) and a_metrics[m] != b_metrics[m]
    ]
    if not diffs:
        return None
    kind = "improved" if min(diffs) > 0 else "regressed" if max(diffs) < 0 else "mixed"
    table = Table(
        ("", *shared),
        [
            ("before", *(_value(b_metrics[m]) for m in shared)),
            ("after", *(_value(a_metrics[m]) for m in shared)),
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
    before_items = [i for i in _get(run.before, "task", "items") or [] if isinstance(i, Mapping)]
    after_items = {
        i.get("id"): i for i in _get(run.after, "task", "items") or [] if isinstance(i, Mapping)
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
        _loss_section(run),
        _diagnosis_section(run),
        _cost_section(run),
        _setup_section(run),
        _items_section(run),
    ]


def _header_facts(run: RunData) -> list[tuple[str, str]]:
    model = _get(run.metrics, "model", "name_or_path") or _get(run.config, "model", "name_or_path")
    status = _get(run.status, "status")  # 'running' while the pipeline itself writes the report
    facts = [
        ("folder", run.path.name),
        ("model", model),
        ("status", status if status != "running" else None),
        ("purpose", _get(run.verdict, "purpose") or _get(run.config, "goal", "purpose")),
        ("goal", _get(run.config, "goal", "description")),
    ]
    return [(key, str(value)) for key, value in facts if value]


def build_report(run: RunData) -> Report:
    """The whole report of one run, in reading order: verdict, task, benchmarks, loss, diagnosis,
    cost, setup, changed items."""
    return Report(run.name, _header_facts(run), _sections(run), run.path.name)
