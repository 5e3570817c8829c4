"""The run report's training sections: loss curve, loss-curve diagnosis, cost, and the setup
(model, hyperparameters, data, evaluation settings, versions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from goaltune.errors import GoaltuneError
from goaltune.format import (
    count,
    duration,
    finite,
    get,
    memory_text,
    parameters_text,
    throughput_text,
    value_text,
)
from goaltune.report.inputs import Json, RunData
from goaltune.report.plots import goal_curve_png, loss_curve_png, series
from goaltune.report.render import Badge, Block, Cell, Chart, Code, Section, Table, Text
from goaltune.run_folder import LossRow, TrainingMetrics

T = TypeVar("T")
History = Sequence[LossRow]

MAX_EVIDENCE_VALUES = 8
SEVERITY_TONES = {"info": "info", "warning": "warn", "error": "bad"}
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


def _evidence(evidence: Mapping[str, Any]) -> str:
    parts = []
    for key, value in evidence.items():
        if isinstance(value, list) and len(value) > MAX_EVIDENCE_VALUES:
            value = [*value[:MAX_EVIDENCE_VALUES], f"... {len(value) - MAX_EVIDENCE_VALUES} more"]
        parts.append(f"{key}: {value_text(value)}")
    return "; ".join(parts) or "-"


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
        count(steps[best]),
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


def loss_section(run: RunData) -> Section:
    title = "Loss curve"
    history = run.history
    if not history:
        why = run.missing("history") or f"{run.file('history')} has no rows"
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
    blocks += _goal_blocks(run)
    if not series(history, "val_loss")[1]:
        blocks.append(
            Text(
                "No validation loss was logged (no validation split, or training "
                "ended before the first evaluation step).",
                note=True,
            )
        )
    return Section("loss", title, blocks)


def _goal_blocks(run: RunData) -> list[Block]:
    """The goal watched during training (goal_history.csv), the kept step marked, and why."""
    folder = run.folder
    if not folder.goal_history_path.is_file():
        return []
    try:
        rows = folder.read_goal_history()
    except GoaltuneError as error:
        return [Text(f"No goal curve: {error}.", note=True)]
    watch = run.metrics.goal_watch if run.metrics else None
    kept = watch.kept_step if watch else None
    names = ", ".join([*rows[0].task, *rows[0].guards]) if rows else "nothing"
    alt = f"Goal curve: {names} on the watched subsets at {len(rows)} evaluations"
    blocks: list[Block] = [
        Chart(
            "chart-goal",
            alt + (f"; kept step {kept}." if kept is not None else "."),
            goal_curve_png(rows, kept),
        )
    ]
    if watch is not None:
        stop = f" Training stopped early: {watch.stop_reason}." if watch.stop_reason else ""
        cost = f" The goal evaluations took {duration(watch.eval_time_s)}."
        blocks.append(
            Text(f"Kept adapter (train.keep: {watch.keep}): {watch.kept_reason}.{stop}{cost}")
        )
    return blocks


def diagnosis_section(run: RunData) -> Section:
    title = "Diagnosis"
    if run.verdict is None:
        why = run.missing("verdict")
        return Section("diagnosis", title, [Text(f"No diagnosis: {why}.", note=True)])
    findings = run.verdict.findings
    if not findings:
        return Section(
            "diagnosis",
            title,
            [Text("The loss-curve diagnosis found nothing to report.", note=True)],
        )
    rows: list[tuple[Cell, ...]] = [
        (
            Badge(f.severity, SEVERITY_TONES.get(f.severity, "muted")),
            f.kind,
            f.message,
            _evidence(f.evidence),
            f.recommendation or "-",
        )
        for f in findings
    ]
    return Section(
        "diagnosis",
        title,
        [Table(("severity", "finding", "message", "evidence", "recommendation"), rows)],
    )


def _or(value: T | None, fallback: T | None) -> T | None:
    """The training metrics' figure, else the loss history's."""
    return value if value is not None else fallback


def _cost_rows(run: RunData) -> list[tuple[Cell, ...]]:
    metrics = run.metrics or TrainingMetrics()  # all unknown: figures come from the history
    last: Mapping[str, Any] = run.history[-1] if run.history else {}
    steps = _or(metrics.steps, last.get("step"))
    epochs = _or(metrics.epochs, last.get("epoch"))
    seen, inputs = _or(metrics.tokens_seen, last.get("tokens_seen")), metrics.input_tokens
    before, after = (side.elapsed_s if side else None for side in (run.before, run.after))
    rows: list[tuple[Cell, ...]] = [
        ("train time", duration(_or(metrics.train_time_s, last.get("elapsed_s")))),
        ("wall time (training incl. setup and saving)", duration(metrics.wall_time_s)),
        ("evaluation time before / after", f"{duration(before)} / {duration(after)}"),
        *_goal_cost(metrics),
        ("peak memory", memory_text(metrics.memory)),
        ("throughput", throughput_text(metrics.loss)),
        ("optimizer steps", count(steps) + (f" ({epochs:.2f} epochs)" if finite(epochs) else "")),
        (
            "tokens seen",
            f"{count(seen)} supervised" + (f", {count(inputs)} input" if finite(inputs) else ""),
        ),
        ("trainable parameters", parameters_text(metrics.model.parameters)),
        (
            "device",
            ", ".join(
                [
                    value_text(metrics.device),
                    f"bf16 autocast: {value_text(metrics.bf16_autocast)}",
                    f"torch threads: {value_text(metrics.torch_threads)}",
                ]
            ),
        ),
    ]
    return rows


def _goal_cost(metrics: TrainingMetrics) -> list[tuple[Cell, ...]]:
    """The goal evaluations during training, not part of the train time."""
    watch = metrics.goal_watch
    if watch is None or not watch.evaluations:
        return []
    return [
        (
            "goal evaluations during training",
            f"{duration(watch.eval_time_s)} "
            f"({count(watch.evaluations)} evaluations, not in the train time)",
        )
    ]


def cost_section(run: RunData) -> Section:
    blocks: list[Block] = [Table(("measure", "value"), _cost_rows(run))]
    if run.metrics is None:
        blocks.insert(
            0,
            Text(
                f"Training metrics unavailable: "
                f"{run.missing('metrics')}; steps, tokens and time "
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
        f"{count(part.get('kept'))} kept, {count(part.get('truncated'))} truncated, "
        f"dropped: {dropped or 'none'}"
    )


def _data_rows(data: Mapping[str, Any]) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Cell, ...]] = [
        (label, value_text(data.get(key))) for label, key in DATA_FIELDS
    ]
    fingerprint = data.get("fingerprint_sha256")
    return rows + [
        ("fingerprint (sha256)", Code(str(fingerprint)) if fingerprint else "-"),
        ("train encoding", _encoding(data.get("train"))),
        ("validation encoding", _encoding(data.get("validation"))),
        (
            "supervised tokens / tokens",
            f"{count(data.get('supervised_tokens'))} / {count(data.get('tokens'))}",
        ),
    ]


def _hyperparameters(run: RunData) -> Json:
    if run.metrics is not None and run.metrics.hyperparameters:
        return dict(run.metrics.hyperparameters)
    return {**(get(run.config, "lora") or {}), **(get(run.config, "train") or {})}


def _model_rows(run: RunData) -> list[tuple[Cell, ...]]:
    """The base model as training resolved it, else as config.yaml names it."""
    values: tuple[Any, ...]
    if run.metrics is not None:
        model = run.metrics.model
        values = (model.name_or_path, model.kind, model.dtype)
    else:
        config = get(run.config, "model")
        values = tuple(get(config, key) for key in ("name_or_path", "kind", "dtype"))
    return [(label, value_text(value)) for label, value in zip(("model", "kind", "dtype"), values)]


def _mapping_table(header: tuple[str, str], values: Mapping[str, Any], title: str) -> Table:
    """A two-column table of a mapping's keys and their values as text."""
    return Table(header, [(k, value_text(v)) for k, v in values.items()], title)


def setup_section(run: RunData) -> Section:
    model_rows = _model_rows(run)
    hyper: list[tuple[Cell, ...]] = [
        (key, value_text(value)) for key, value in _hyperparameters(run).items()
    ]
    blocks: list[Block] = [
        Table(("setting", "value"), model_rows + hyper, "Model and hyperparameters")
    ]
    if run.metrics is not None and run.metrics.data:
        blocks.append(Table(("data", "value"), _data_rows(run.metrics.data), "Data"))
    settings = next(
        (side.settings for side in (run.before, run.after) if side and side.settings), {}
    )
    if settings:
        blocks.append(_mapping_table(("setting", "value"), settings, "Evaluation settings"))
    versions = run.metrics.versions if run.metrics else None
    if versions:
        blocks.append(_mapping_table(("library", "version"), versions, "Versions"))
    if run.metrics is None:
        why = run.missing("metrics")
        blocks.append(Text(f"Data and versions unavailable: {why}.", note=True))
    return Section("setup", "Hyperparameters, data and versions", blocks, columns=True)
