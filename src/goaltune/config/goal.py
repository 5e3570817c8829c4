"""The goal and audit sections: what success means and how the data is checked."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from goaltune.config.base import _Strict
from goaltune.config.evaluation import _benchmark_specs


class TaskMetricGoal(_Strict):
    """A metric that defines success, with an optional target score (0-1)."""

    name: str
    target: float | None = Field(default=None, ge=0.0, le=1.0)


class Thresholds(_Strict):
    """Verdict thresholds in percentage points; defaults follow the docs' decision table."""

    min_gain_points: float = 5.0
    tradeoff_drop_points: float = 5.0
    caution_drop_points: float = 15.0
    investigate_drop_points: float = 20.0

    def band(self, drop_points: float) -> int:
        """The guard rule's band of a drop (negative: a gain): 0 below tradeoff_drop_points,
        1 up to caution_drop_points (a trade-off), 2 up to investigate_drop_points (caution),
        3 beyond (investigate)."""
        if drop_points < self.tradeoff_drop_points:
            return 0
        return (
            1
            + (drop_points > self.caution_drop_points)
            + (drop_points > self.investigate_drop_points)
        )


class GoalConfig(_Strict):
    """What the fine-tune is for and how success is measured."""

    purpose: Literal["behavior", "domain", "learning", "benchmark"] = "behavior"
    description: str | None = None
    task_metrics: list[TaskMetricGoal] = Field(default_factory=list)
    guard_benchmarks: list[str] = Field(default_factory=list)
    _guard_specs = field_validator("guard_benchmarks", mode="before")(_benchmark_specs)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @field_validator("task_metrics", mode="before")
    @classmethod
    def _accept_plain_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


class AuditConfig(_Strict):
    """The data audit before training: leakage, benchmark contamination and data quality."""

    enabled: bool = Field(default=True, description="Audit the data as the first step of a run.")
    near_duplicate_threshold: float = Field(
        default=0.7,
        gt=0.0,
        le=1.0,
        description="Jaccard similarity of two prompts' character 5-gram shingles (punctuation "
        "and case removed) from which they count as near-duplicates.",
    )
    ngram_size: int = Field(
        default=13, ge=1, description="Words per n-gram of benchmark contamination (lm-eval: 13)."
    )
    leak_caution_share: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="Share of leaked task items from which a SUCCESS becomes a caution.",
    )
    min_reference_chars: int = Field(
        default=20,
        ge=1,
        description="Shortest reference (normalised) whose repeat in training counts as a leak; "
        "short answers such as labels repeat by nature.",
    )
    reference_leaks: bool | None = Field(
        default=None,
        description="Whether a held-out item whose reference answer is repeated in training under "
        "another prompt counts as leaked. Default: yes, except for goal.purpose domain, whose "
        "facts are learned from training and asked again in other words.",
    )
