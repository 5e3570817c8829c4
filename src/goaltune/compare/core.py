"""The comparison itself, with no rendering: find run folders, read them, diff their resolved
configs, and set each run against its reference run on one factor, flagging confounded pairs.

Two runs are compared on one factor only when their resolved configs differ in nothing else;
otherwise the pair is confounded and names the other differing keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goaltune.config import resolve_key_path
from goaltune.errors import ConfigError, RunError
from goaltune.format import get, value_text
from goaltune.report.inputs import Json, RunData, entry, load_run
from goaltune.run_folder import DeltaRecord, FlipRecord, RunFolder, TrainingMetrics

IGNORED_KEYS = ("name", "output_dir")


# ---------------------------------------------------------------- finding runs


def _started(path: Path) -> float:
    config = RunFolder(path).config_path
    return (config if config.is_file() else path).stat().st_mtime


def find_runs(root: Path, depth: int = 2) -> list[Path]:
    """Run folders in `root` and in folders holding runs (sweeps), oldest first; others skipped."""
    if not root.is_dir():
        raise RunError(f"{root}: no such runs folder")
    found: list[Path] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if RunFolder(child).is_run():
            found.append(child)
        elif depth > 1:
            found += find_runs(child, depth - 1)
    return sorted(found, key=_started)


def expand_runs(args: Sequence[str | Path], output_dir: str | Path = "runs") -> list[Path]:
    """Run folders from paths or names; a folder holding runs (a sweep) stands for all of them."""
    from goaltune.run_folder import resolve_run_dir

    runs: list[Path] = []
    for arg in args:
        path = resolve_run_dir(arg, output_dir)
        runs += [path] if RunFolder(path).is_run() else find_runs(path, depth=1)
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


def status_name(run: RunData) -> str:
    """Where the run stands ('unknown' without a readable status.json)."""
    return run.status.status if run.status else "unknown"


def verdict_name(run: RunData) -> str | None:
    """The verdict ('SUCCESS', ...), None without a readable verdict.json."""
    return run.verdict.verdict if run.verdict else None


def after_score(run: RunData, name: str) -> float | None:
    """A task metric's after score, or a benchmark's primary-metric after score."""
    if run.after is None:
        return None
    task = entry(run.after.task, name)
    if task is not None and task.score is not None:
        return task.score
    bench = run.after.benchmarks.get(name)
    primary = entry(bench, bench.primary_metric) if bench else None
    return primary.score if primary else None


def task_metrics(runs: list[ComparedRun]) -> list[str]:
    """Task metric names over all runs, in order of appearance."""
    names: dict[str, None] = {}
    for run in runs:
        for side in (run.data.before, run.data.after):
            names.update(dict.fromkeys(side.task.metrics if side and side.task else {}))
    return list(names)


def benchmarks(runs: list[ComparedRun]) -> list[str]:
    """Benchmark names over all runs, in order of appearance."""
    names: dict[str, None] = {}
    for run in runs:
        for side in (run.data.before, run.data.after):
            names.update(dict.fromkeys(side.benchmarks if side else {}))
    return list(names)


def goal_task_metrics(runs: list[ComparedRun]) -> list[str]:
    """The first run's goal task metrics (names)."""
    goals = get(runs[0].data.config, "goal", "task_metrics") or []
    return [str(g.get("name")) for g in goals if isinstance(g, Mapping)]


def goal_metrics(runs: list[ComparedRun]) -> list[str]:
    """The metrics the summary compares: the goal's task metrics (else all), then benchmarks."""
    goals = goal_task_metrics(runs)
    return list(dict.fromkeys([*(goals or task_metrics(runs)), *benchmarks(runs)]))


def _delta_text(delta: DeltaRecord | None) -> str:
    return f"{delta.delta_points:+.1f} {delta.name}" if delta is not None else "-"


def first_task_delta(run: RunData) -> str:
    """'+67.0 json_valid': the verdict's first task delta in points."""
    deltas = [d for d in run.deltas.values() if d.role == "task"]
    return _delta_text(deltas[0] if deltas else None)


def worst_guard(run: RunData) -> str:
    """'-4.0 builtin:ifeval-mini': the guard benchmark with the lowest delta in points."""
    guards = [d for d in run.deltas.values() if d.role == "guard"]
    return _delta_text(min(guards, key=lambda d: d.delta_points) if guards else None)


def flips(run: RunData) -> dict[str, FlipRecord]:
    """The verdict's flips by metric (or benchmark) name; none without verdict.json or flips."""
    return {flip.name: flip for flip in run.verdict.flips} if run.verdict else {}


def flipped_names(runs: list[ComparedRun]) -> list[str]:
    """Judged metrics with flips in some run, in order of appearance (task metrics first)."""
    return list(dict.fromkeys(name for run in runs for name in flips(run.data)))


def flip_text(flip: FlipRecord | None) -> str:
    """'1 / 8 (p 0.039)': right -> wrong / wrong -> right and McNemar's exact p."""
    if flip is None:
        return "-"
    return f"{flip.right_to_wrong} / {flip.wrong_to_right} (p {flip.p_value:.2g})"


def cost(run: RunData) -> Json:
    """A run's cost figures exactly as its files hold them (None where they do not)."""
    metrics = run.metrics or TrainingMetrics()
    return {
        "train_time_s": metrics.train_time_s,
        "wall_time_s": metrics.wall_time_s,
        "peak_memory_mib": metrics.memory.peak_memory_mib,
        "tokens_per_second": metrics.loss.tokens_per_second,
        "trainable_parameters": metrics.model.parameters.get("trainable"),
        "eval_before_s": run.before.elapsed_s if run.before else None,
        "eval_after_s": run.after.elapsed_s if run.after else None,
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
        return f"{value_text(self.run.value(key))} vs {value_text(self.reference.value(key))}"

    def _head(self) -> str:
        if self.factor is None:
            varied = "; ".join(f"{k} {self._values(k)}" for k in self.differs) or "same config"
            return f"{self.run.label} vs {self.reference.label} ({varied})"
        head = f"{self.factor} {self._values(self.factor)}"
        if self.confounders:
            others = ", ".join(f"{k} {self._values(k)}" for k in self.confounders)
            return f"{head} (confounded: also {others})"
        fixed = ", ".join(f"{k}={value_text(self.run.value(k))}" for k in self.context)
        return f"{head} (at {fixed})" if fixed else head

    def text(self) -> str:
        """E.g. 'lora.r 64 vs 16: +2.0 points json_valid, -6.0 points builtin:mc-mini, 1.3x
        time'."""
        parts = [f"{v:+.1f} points {name}" for name, v in self.changes.items() if v is not None]
        if self.time_ratio is not None:
            parts.append(f"{self.time_ratio:.1f}x time")
        verdicts = [verdict_name(r.data) for r in (self.run, self.reference)]
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
        f"{run.label} is {status_name(run.data)}: figures its folder lacks are shown as '-'."
        for run in runs
        if status_name(run.data) != "finished"
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
