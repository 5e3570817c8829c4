"""The verdict: compare before/after scores against the goal, with paired bootstrap intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from goaltune.config import GoalConfig, Thresholds, load_config
from goaltune.deltas import MetricDelta, MetricFlips, collect_deltas, collect_flips
from goaltune.diagnose import Finding, diagnose, forgetting_remedies, goal_peak
from goaltune.format import prose_points
from goaltune.run_folder import (
    EvalResult,
    GoalRow,
    LossRow,
    RunFolder,
    VerdictRecord,
    parse_record,
)
from goaltune.run_folder.layout import eval_name

SUCCESS, INVESTIGATE, NEEDS_TUNING, PROBLEM, FAILED = (
    "SUCCESS",
    "INVESTIGATE",
    "NEEDS TUNING",
    "PROBLEM",
    "FAILED",
)
VERDICTS = (SUCCESS, INVESTIGATE, NEEDS_TUNING, PROBLEM, FAILED)
# "running" is not a failure: the pipeline writes the verdict before it marks the run finished
FAILED_STATUSES = ("failed", "interrupted")

SHARPEN_GOAL = (
    "Sharpen the goal: fine-tune for a specific task with its own metric, using more and more "
    "diverse data, instead of aiming at general benchmarks."
)
CHECK_DATA = (
    "Check that the training data teaches what the task metric measures (same format, prompt "
    "template and labels as the test items) and read a sample of after outputs."
)
LOWER_LR = "Lower the learning rate and train fewer epochs."
READ_OUTPUTS = "Read a sample of after outputs on the dropped benchmark to see what broke."
NO_TASK_METRIC = "No task metric measures the goal; only guard benchmarks were judged."
ADD_TASK_METRIC = "Add a task metric (goal.task_metrics) that measures the goal."


@dataclass
class Verdict:
    """The decision against the goal, with its reasons, evidence and what to do next."""

    verdict: str
    caution: bool
    purpose: str
    headline: str
    reasons: list[str]
    deltas: list[MetricDelta]
    findings: list[Finding]
    recommendations: list[str]
    flips: list[MetricFlips] = field(default_factory=list)  # evidence only: not in the decision

    def to_dict(self) -> dict[str, Any]:
        """The verdict as written to verdict.json."""
        return {
            "verdict": self.verdict,
            "caution": self.caution,
            "purpose": self.purpose,
            "headline": self.headline,
            "reasons": list(self.reasons),
            "deltas": [d.to_dict() for d in self.deltas],
            "flips": [f.to_dict() for f in self.flips],
            "findings": [f.to_dict() for f in self.findings],
            "recommendations": list(self.recommendations),
        }

    def to_record(self) -> VerdictRecord:
        """The verdict as the typed verdict.json record."""
        return VerdictRecord.model_validate(self.to_dict())


@dataclass
class _Outcome:
    """The part of a verdict that depends on the case: decision, headline tail, reasons, advice."""

    verdict: str
    tail: str = ""
    caution: bool = False
    reasons: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)


def _phrase(d: MetricDelta, with_ci: bool = True) -> str:
    """E.g. 'json_valid rose 38 points (CI 29..47)'."""
    ci = (
        f" (CI {prose_points(d.ci_low_points)}..{prose_points(d.ci_high_points)})"
        if with_ci
        else ""
    )
    if d.change == "within noise":
        return f"{d.name} changed {prose_points(d.delta_points, '+')} points{ci}, within noise"
    verb = "rose" if d.change == "gain" else "fell"
    return f"{d.name} {verb} {prose_points(abs(d.delta_points))} points{ci}"


def _newly_reached(d: MetricDelta) -> bool:
    return d.target is not None and d.before < d.target <= d.after


def _improved(d: MetricDelta, t: Thresholds) -> bool:
    """A real gain of at least min_gain_points, or a real gain that newly reaches the target."""
    return d.change == "gain" and (d.delta_points >= t.min_gain_points or _newly_reached(d))


def _task_reason(d: MetricDelta, t: Thresholds) -> str:
    if _newly_reached(d) and d.change == "gain":
        return f"{_phrase(d)} and reached its target {d.target:g} (now {d.after:.3g})."
    if d.change == "gain" and not _improved(d, t):
        return f"{_phrase(d)}, below the {t.min_gain_points:g}-point minimum gain."
    return f"{_phrase(d)}."


def _delta_reasons(task: list[MetricDelta], guards: list[MetricDelta], t: Thresholds) -> list[str]:
    return [_task_reason(d, t) for d in task] + [f"{_phrase(g)}." for g in guards]


def _worst_drop(guards: list[MetricDelta]) -> MetricDelta | None:
    """The guard with the largest real drop (interval below zero), if any."""
    drops = [g for g in guards if g.change == "drop"]
    return min(drops, key=lambda g: g.delta_points) if drops else None


def _headline(task: list[MetricDelta], guards: list[MetricDelta], tail: str, purpose: str) -> str:
    """Task changes, then the worst real guard drop (or that guards held), then the tail."""
    empty = "training finished" if purpose == "learning" else "no task metric measured"
    clauses = [_phrase(d) for d in task] or [empty]
    worst = _worst_drop(guards)
    if worst is not None:
        clauses.append(_phrase(worst, with_ci=False))
    elif guards:
        clauses.append("guard benchmarks held")
    return "; ".join(clauses) + (f": {tail}" if tail else "") + "."


def _failure(status: str, reason: str | None, findings: Sequence[Finding]) -> str | None:
    """Why training failed, or None when it completed with finite losses."""
    non_finite = [f for f in findings if f.kind == "non_finite"]
    if status not in FAILED_STATUSES and not non_finite:
        return None
    return reason or (non_finite[0].message.rstrip(".") if non_finite else f"training {status}")


def _learning(
    task: list[MetricDelta], guards: list[MetricDelta], findings: Sequence[Finding]
) -> _Outcome:
    """A learning run succeeds when training completes; findings become lessons."""
    reasons = ["Training completed; for a learning run that is the success criterion."]
    reasons += [f"Lesson: {f.message}" for f in findings]
    reasons += [f"{_phrase(d)}." for d in task]
    reasons += [
        f"Observation: {_phrase(g)}: forgetting, the usual side effect of fine-tuning."
        for g in guards
        if g.change == "drop"
    ]
    return _Outcome(SUCCESS, tail="a learning run, see the lessons", reasons=reasons)


def _with_gain(worst: MetricDelta | None, t: Thresholds) -> _Outcome:
    """The task improved: the worst real guard drop decides between success and a closer look."""
    if worst is None:
        return _Outcome(SUCCESS, reasons=["No guard benchmark dropped beyond noise."])
    drop = -worst.delta_points
    name = f"{worst.name} ({prose_points(drop)} points)"
    band = t.band(drop)
    if band == 0:
        return _Outcome(SUCCESS, reasons=[f"The worst guard drop, {name}, is small."])
    if band == 1:
        reason = (
            f"The worst guard drop, {name}, is at most {t.caution_drop_points:g} points: "
            "a trade-off, not a failure."
        )
        return _Outcome(SUCCESS, tail="a trade-off, not a failure", reasons=[reason])
    if band == 2:
        reason = (
            f"The worst guard drop, {name}, is between {t.caution_drop_points:g} and "
            f"{t.investigate_drop_points:g} points: the gain is real, accept it with caution."
        )
        return _Outcome(
            SUCCESS, tail="a real gain, but check that drop", caution=True, reasons=[reason]
        )
    reason = (
        f"The worst guard drop, {name}, exceeds {t.investigate_drop_points:g} points: too large "
        "to accept without reading outputs on that benchmark."
    )
    return _Outcome(
        INVESTIGATE,
        tail="too large a drop to accept without a look",
        reasons=[reason],
        recommendations=[READ_OUTPUTS],
    )


def _without_gain(task: list[MetricDelta], guard_dropped: bool) -> _Outcome:
    """No task gain and no task drop: judged on the guards (also when no task metric exists)."""
    missing = [] if task else [NO_TASK_METRIC]
    if guard_dropped:
        return _Outcome(
            NEEDS_TUNING,
            tail="no task gain, but guards dropped",
            reasons=missing + ["The task did not measurably improve, but guards dropped."],
            recommendations=[CHECK_DATA],
        )
    return _Outcome(
        INVESTIGATE,
        tail="the task did not measurably improve",
        reasons=missing + ["Neither the task nor the guard benchmarks improved measurably."],
        recommendations=[CHECK_DATA] + ([] if task else [ADD_TASK_METRIC]),
    )


def _table(goal: GoalConfig, task: list[MetricDelta], guards: list[MetricDelta]) -> _Outcome:
    """The decision table for behavior, domain and benchmark goals."""
    improved = any(_improved(d, goal.thresholds) for d in task)
    task_dropped = any(d.change == "drop" for d in task)
    guard_dropped = _worst_drop(guards) is not None
    if improved and task_dropped:
        return _Outcome(
            INVESTIGATE,
            tail="task metrics moved in opposite directions",
            reasons=["Some task metrics improved while others dropped."],
            recommendations=[CHECK_DATA],
        )
    if improved:
        return _with_gain(_worst_drop(guards), goal.thresholds)
    if goal.purpose == "benchmark":
        dropped = task_dropped or guard_dropped
        return _Outcome(
            NEEDS_TUNING if dropped else INVESTIGATE,
            tail="no target benchmark improved",
            reasons=["No target benchmark improved" + (" and scores dropped." if dropped else ".")],
            recommendations=[SHARPEN_GOAL],
        )
    if task_dropped:
        return _Outcome(
            PROBLEM,
            tail="the fine-tune made its own task worse",
            reasons=["The task metric dropped: the fine-tune made the thing it was for worse."],
            recommendations=[CHECK_DATA, LOWER_LR],
        )
    return _without_gain(task, guard_dropped)


def _judge(goal: GoalConfig, task: list[MetricDelta], guards: list[MetricDelta]) -> _Outcome:
    """The table's outcome, its reasons preceded by one sentence per delta."""
    outcome = _table(goal, task, guards)
    return replace(outcome, reasons=_delta_reasons(task, guards, goal.thresholds) + outcome.reasons)


def decide(
    goal: GoalConfig,
    deltas: list[MetricDelta],
    training_status: str = "finished",
    failure_reason: str | None = None,
    findings: Sequence[Finding] = (),
) -> Verdict:
    """Apply the decision table of the docs to the deltas (thresholds in points from the goal).

    - Training failed or was interrupted, or a non-finite loss among the findings: FAILED.
    - learning: SUCCESS once training finished; findings become lessons, guard drops observations.
    - A task gain (real and >= min_gain_points, or real and newly reaching its target): the worst
      real guard drop decides: below tradeoff_drop_points SUCCESS, up to caution_drop_points
      SUCCESS as a trade-off, up to investigate_drop_points SUCCESS with caution, beyond that
      INVESTIGATE. Task metrics improving and dropping at once: INVESTIGATE.
    - benchmark, no target improved: NEEDS TUNING when anything dropped (else INVESTIGATE), with
      the advice to sharpen the goal.
    - A task metric dropped: PROBLEM, whether or not the guards held (the run hurt its own goal).
    - No task gain or drop (or no task metric at all, judged on the guards alone): INVESTIGATE
      when the guards held, NEEDS TUNING when they dropped.
    Only changes whose interval excludes zero count as gains or drops.
    """
    findings = list(findings)
    task = [d for d in deltas if d.role == "task"]
    guards = [d for d in deltas if d.role == "guard"]
    failure = _failure(training_status, failure_reason, findings)
    if failure is not None:
        outcome = _Outcome(FAILED, reasons=[f"Training failed: {failure}."])
    elif goal.purpose == "learning":
        outcome = _learning(task, guards, findings)
    else:
        outcome = _judge(goal, task, guards)
    if failure:
        headline = outcome.reasons[0]
    else:
        headline = _headline(task, guards, outcome.tail, goal.purpose)
    remedies = forgetting_remedies() if _worst_drop(guards) is not None else []
    recommendations = outcome.recommendations + remedies + [f.recommendation for f in findings]
    return Verdict(
        verdict=outcome.verdict,
        caution=outcome.caution,
        purpose=goal.purpose,
        headline=headline,
        reasons=outcome.reasons,
        deltas=list(deltas),
        findings=findings,
        recommendations=list(dict.fromkeys(recommendations)),
    )


def build_verdict(
    goal: GoalConfig,
    before: EvalResult | dict[str, Any],
    after: EvalResult | dict[str, Any],
    training_status: str = "finished",
    failure_reason: str | None = None,
    loss_rows: Sequence[LossRow] | None = None,
    resamples: int = 1000,
    goal_rows: list[GoalRow] | None = None,
) -> Verdict:
    """The verdict from the eval results and the loss history (and the goal history, when the
    goal was watched during training); no deltas or flips when training failed.

    Parsed JSON is accepted as well and checked against the eval file's model.
    """
    findings = diagnose([dict(row) for row in loss_rows]) if loss_rows is not None else []
    findings += goal_peak(goal_rows or [])
    if training_status in FAILED_STATUSES:
        return decide(goal, [], training_status, failure_reason, findings)
    before_result = _eval_result(before, eval_name("before"))
    after_result = _eval_result(after, eval_name("after"))
    deltas = collect_deltas(goal, before_result, after_result, resamples)
    verdict = decide(goal, deltas, training_status, failure_reason, findings)
    return replace(verdict, flips=collect_flips(goal, before_result, after_result))


def _eval_result(value: EvalResult | dict[str, Any], source: str) -> EvalResult:
    return value if isinstance(value, EvalResult) else parse_record(EvalResult, value, source)


def verdict_for_run(run_dir: str | Path) -> Verdict:
    """The verdict of a run folder, from config.yaml, status.json, eval/ and loss_history.csv."""
    folder = RunFolder(Path(run_dir))
    config = load_config(folder.config_path)
    status = folder.read_status()
    failed = status.status in FAILED_STATUSES
    history = folder.loss_history_path
    verdict = build_verdict(
        config.goal,
        EvalResult() if failed else folder.read_eval("before"),
        EvalResult() if failed else folder.read_eval("after"),
        status.status,
        status.reason,
        folder.read_loss_history() if history.is_file() else None,
        config.eval.bootstrap_resamples,
        folder.read_goal_history() if folder.goal_history_path.is_file() else None,
    )
    if failed or not folder.audit_path.is_file():
        return verdict
    from goaltune.audit.judge import audit_effect

    success = verdict.verdict == SUCCESS and verdict.purpose != "learning"
    effect = audit_effect(folder, config, verdict.deltas, success)
    recommendations = verdict.recommendations + effect.recommendations
    return replace(
        verdict,
        caution=verdict.caution or effect.caution is not None,
        headline=effect.headline(verdict.headline),
        reasons=verdict.reasons + effect.reasons,
        findings=verdict.findings + effect.findings,
        recommendations=list(dict.fromkeys(recommendations)),
    )
