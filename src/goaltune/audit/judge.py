"""What the audit changes in a verdict: clean-item scores, cautions and data findings.

With task items found in the training data, the task metrics are scored again on the clean
items only and put beside the full scores; a SUCCESS becomes a caution when the leaked share
reaches audit.leak_caution_share or when the clean items alone show no real gain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from goaltune.config import RunConfig
from goaltune.deltas import MetricDelta, collect_deltas
from goaltune.diagnose import Finding
from goaltune.format import pct, prose_points
from goaltune.run_folder import EvalResult, RunFolder
from goaltune.run_folder.schema import AuditRecord

REMOVE_LEAKS = (
    "Remove the test items listed in audit.json (test_in_train.items) from the training data, "
    "or from the test set, and run again: their scores measure memory, not the skill."
)
DECONTAMINATE = (
    "Remove the training examples that overlap the benchmark's items (audit.json, "
    "contamination) before judging on that benchmark."
)


def clean_deltas(
    config: RunConfig, before: EvalResult, after: EvalResult, leaked: set[str]
) -> list[MetricDelta]:
    """The task-section metrics on the items that did not leak, paired as the verdict pairs."""
    if before.task is None or after.task is None:
        return []
    task_metrics = before.task.metrics
    goals = [m for m in config.goal.task_metrics if m.name in task_metrics]
    if config.goal.task_metrics and not goals:  # the task metrics all name benchmarks
        return []
    goal = config.goal.model_copy(update={"task_metrics": goals, "guard_benchmarks": []})

    def clean(result: EvalResult) -> EvalResult:
        assert result.task is not None
        items = [item for item in result.task.items if item.id not in leaked]
        task = result.task.model_copy(update={"items": items})
        return result.model_copy(update={"task": task, "benchmarks": {}})

    deltas = collect_deltas(goal, clean(before), clean(after), config.eval.bootstrap_resamples)
    return [d for d in deltas if d.role == "task" and d.n > 0]


def _scores(d: MetricDelta) -> str:
    return (
        f"{d.before:.3g} -> {d.after:.3g} ({prose_points(d.delta_points, '+')} points, "
        f"CI {prose_points(d.ci_low_points)}..{prose_points(d.ci_high_points)})"
    )


def _leak_reasons(full: list[MetricDelta], clean: list[MetricDelta], kept: int) -> list[str]:
    by_name = {d.name: d for d in full}
    return [
        f"On the {kept} task items not found in the training data, {d.name} went {_scores(d)}; "
        f"on all {by_name[d.name].n} items {_scores(by_name[d.name])}."
        for d in clean
        if d.name in by_name
    ]


def _findings(audit: AuditRecord) -> list[Finding]:
    found = []
    leak = audit.test_in_train
    if leak and leak.items:
        found.append(
            Finding(
                "test_in_train",
                "warning",
                f"{len(leak.items)} of {leak.checked} test items are in the training data.",
                {"exact": leak.exact, "near": leak.near, "reference": leak.reference},
                REMOVE_LEAKS,
            )
        )
    for spec, hit in audit.contamination.items():
        if hit.contaminated:
            found.append(
                Finding(
                    "benchmark_contamination",
                    "warning",
                    f"{spec}: {hit.contaminated} of {hit.checked} items overlap the training data.",
                    {"benchmark": spec, "items": hit.contaminated, "share": hit.share},
                    DECONTAMINATE,
                )
            )
    return found


@dataclass
class AuditEffect:
    """What the audit adds to a verdict: findings, reasons, advice and, maybe, a caution."""

    findings: list[Finding] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    caution: str | None = None  # why a SUCCESS is to be taken with caution

    def headline(self, headline: str) -> str:
        """The verdict's headline, with the caution's reason when there is one."""
        return f"{headline.rstrip('.')}; caution: {self.caution}." if self.caution else headline


def audit_effect(
    folder: RunFolder, config: RunConfig, deltas: list[MetricDelta], success: bool
) -> AuditEffect:
    """The audit's findings and, for leaked task items, clean-item scores and a caution when a
    SUCCESS (`success`: the verdict is one, for a goal other than learning) rests on them."""
    audit = folder.read_audit()
    found = _findings(audit)
    effect = AuditEffect(found, recommendations=[f.recommendation for f in found])
    leak = audit.test_in_train
    full = [d for d in deltas if d.role == "task"]
    if not leak or not leak.items or not full:
        return effect
    before, after = folder.read_eval("before"), folder.read_eval("after")
    evaluated = {item.id for item in before.task.items} if before.task else set()
    leaked = set(leak.items) & evaluated
    if not leaked:
        return effect
    clean = clean_deltas(config, before, after, leaked) if leaked != evaluated else []
    share = len(leaked) / len(evaluated)
    effect.reasons = _leak_reasons(full, clean, len(evaluated) - len(leaked))
    holds = any(d.change == "gain" for d in clean)
    if success and (not holds or share >= config.audit.leak_caution_share):
        effect.caution = (
            f"{len(leaked)} of {len(evaluated)} task items ({pct(share)}) are in the training data"
            + ("" if holds else " and the clean items alone show no real gain")
        )
        effect.reasons.append(f"Caution: {effect.caution}; the SUCCESS rests on memorised items.")
    return effect
