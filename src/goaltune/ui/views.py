"""What the dashboard's pages show, as plain values for the templates and the JSON endpoints.

Runs are read with the report's reader (`report.inputs.load_run`, which goes through the run
folder's typed records and names each file it could not read) and compared with `compare.core`;
nothing here parses a run file itself or writes to a run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from goaltune.compare.core import (
    cost,
    first_task_delta,
    status_name,
    verdict_name,
)
from goaltune.errors import GoaltuneError
from goaltune.format import finite, get, memory_text, points, short_duration, value_text
from goaltune.report.inputs import Json, RunData, load_run
from goaltune.run_folder import DeltaRecord, RunFolder


def _short(value: Any) -> str:
    text = value_text(value)
    return text.rsplit("/", 1)[-1] if "/" in text else text


def delta_text(delta: DeltaRecord) -> str:
    """'+70.0 [29.8, 100.0]': a change in points with its 95% interval."""
    return f"{points(delta.delta_points)} [{delta.ci_low_points:.1f}, {delta.ci_high_points:.1f}]"


def errors(run: RunData) -> list[str]:
    """Files of the run that exist but could not be read, with why ('eval/after.json: ...')."""
    return [f"{name}: {why}" for name, why in run.problems.items() if why != "missing"]


def progress(run: RunData) -> Json:
    """A run's last logged step and elapsed time, and an ETA while it is running."""
    last = run.history[-1] if run.history else None
    if last is None:
        return {"step": None, "elapsed_s": None, "eta_s": None}
    elapsed, eta = last["elapsed_s"], None
    max_steps = get(run.config, "train", "max_steps")
    epochs = get(run.config, "train", "num_train_epochs")
    if max_steps and last["step"]:
        done = last["step"] / max_steps
    elif finite(epochs) and epochs > 0 and finite(last["epoch"]):
        done = last["epoch"] / epochs
    else:
        done = None
    if status_name(run) == "running" and finite(elapsed) and done and 0 < done < 1:
        eta = elapsed * (1 / done - 1)
    return {"step": last["step"], "elapsed_s": elapsed, "eta_s": eta}


def status_text(run: RunData) -> str:
    """'finished', or 'running: step 12, ETA 1m30s' for a run still training."""
    status = status_name(run)
    if status != "running":
        return status
    now = progress(run)
    if now["step"] is None:
        return "running: starting"
    eta = f", ETA {short_duration(now['eta_s'])}" if now["eta_s"] is not None else ""
    return f"running: step {now['step']}{eta}"


def run_row(run_id: str, run_dir: Path) -> Json:
    """One row of the runs page; a folder that cannot be read at all is a row with its error."""
    try:
        run = load_run(run_dir)
    except (GoaltuneError, OSError) as error:
        return {
            "id": run_id,
            "name": run_dir.name,
            "status": "unreadable",
            "status_text": "unreadable",
            "verdict": "-",
            "guards": [],
            "started": run_dir.stat().st_mtime if run_dir.exists() else 0,
            "errors": [str(error)],
        }
    config = run.config or {}
    deltas = list(run.deltas.values())
    task = [d for d in deltas if d.role == "task"]
    started = run.folder.config_path if run.folder.config_path.is_file() else run_dir
    steps = get(config, "train", "max_steps")
    return {
        "id": run_id,
        "name": run.name,
        "folder": run_id.partition("/")[2] or run_dir.name,
        "model": _short(get(config, "model", "name_or_path")),
        "data": _short(get(config, "data", "train")),
        "r": value_text(get(config, "lora", "r")),
        "epochs": f"{steps} steps"
        if steps
        else value_text(get(config, "train", "num_train_epochs")),
        "lr": value_text(get(config, "train", "learning_rate")),
        "status": status_name(run),
        "status_text": status_text(run),
        "verdict": verdict_name(run) or "-",
        "caution": bool(run.verdict and run.verdict.caution),
        "task": f"{delta_text(task[0])} {task[0].name}" if task else first_task_delta(run),
        "task_sort": task[0].delta_points if task else None,
        "guards": [f"{delta_text(d)} {d.name}" for d in deltas if d.role == "guard"],
        "time_s": cost(run)["wall_time_s"],
        "time": short_duration(cost(run)["wall_time_s"]),
        "peak_memory_mib": cost(run)["peak_memory_mib"],
        "memory": memory_text(run.metrics.memory).split(" (")[0] if run.metrics else "-",
        "started": started.stat().st_mtime,
        "errors": errors(run),
    }


def goal_curves(folder: RunFolder) -> tuple[list[Json], list[str]]:
    """goal_history.csv as one series per watched metric (score in % by step), and its error."""
    if not folder.goal_history_path.is_file():
        return [], []
    try:
        rows = folder.read_goal_history()
    except (GoaltuneError, OSError) as error:
        return [], [str(error)]
    names = dict.fromkeys(
        (role, name)
        for row in rows
        for role, scores in (("task", row.task), ("guard", row.guards))
        for name in scores
    )
    series = []
    for role, name in names:
        values = [
            (row.step, (row.task if role == "task" else row.guards).get(name)) for row in rows
        ]
        points = [[step, 100 * value] for step, value in values if finite(value)]
        series.append({"label": f"{role}: {name}", "role": role, "points": points})
    return series, []


def curves(run_id: str, run: RunData) -> Json:
    """The loss curve points of a run (step, tokens seen, train and validation loss), and the
    goal's scores during training where goal_history.csv exists."""
    rows = [
        {
            "step": row["step"],
            "tokens_seen": row["tokens_seen"],
            "train_loss": row["train_loss"],
            "val_loss": row["val_loss"],
        }
        for row in run.history or []
    ]
    goal, goal_errors = goal_curves(run.folder)
    return {
        "id": run_id,
        "label": run.name,
        "status": status_name(run),
        "status_text": status_text(run),
        "rows": rows,
        "goal": goal,
        "errors": errors(run) + goal_errors,
    }


def read_curves(run_id: str, run_dir: Path) -> Json:
    """`curves` for a folder, or its error when it cannot be read (deleted meanwhile)."""
    try:
        return curves(run_id, load_run(run_dir))
    except (GoaltuneError, OSError) as error:
        return {"id": run_id, "label": run_dir.name, "rows": [], "errors": [str(error)]}


def config_text(run: RunData) -> str:
    """The run's resolved config as YAML, as config.yaml holds it."""
    return yaml.safe_dump(run.config, sort_keys=False) if run.config else ""


def flat_metrics(run: RunData) -> list[tuple[str, str]]:
    """training_metrics.json as (dotted key, value) pairs, for a plain table."""
    if run.metrics is None:
        return []
    pairs: list[tuple[str, str]] = []

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(inner, f"{prefix}{key}.")
        else:
            pairs.append((prefix.rstrip("."), value_text(value)))

    walk(run.metrics.model_dump(mode="json"), "")
    return pairs


def audit(folder: RunFolder) -> Json:
    """The data audit's warnings and counts, or why it cannot be shown."""
    if not folder.audit_path.is_file():
        return {"missing": True}
    try:
        record = folder.read_audit()
    except (GoaltuneError, OSError) as error:
        return {"error": str(error)}
    leaks = {
        name: leak
        for name, leak in (
            ("test", record.test_in_train),
            ("validation", record.validation_in_train),
        )
        if leak is not None
    }
    return {
        "warnings": record.warnings,
        "train_examples": record.train_examples,
        "leaks": leaks,
        "duplicates": record.train_duplicates,
        "lengths": record.lengths,
        "contamination": record.contamination,
    }
