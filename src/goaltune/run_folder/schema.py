"""Typed models of the run folder's JSON files: what each file holds, in one place.

Every model keeps fields it does not declare (`extra="allow"`), so a file with more than this
version knows survives a read-and-write, and every file carries `format_version`. Files written
before the version field existed read as version 0, which has the same layout as version 1.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 1
LEGACY_VERSION = 0  # files from before the run folder had a schema: same fields, no version

Status = Literal["running", "finished", "failed", "interrupted", "unknown"]
Change = Literal["gain", "drop", "within noise"]


OMITTED_WHEN_NONE: Any = Field(default=None, exclude_if=lambda value: value is None)


class Part(BaseModel):
    """A nested part of a run file: typed fields, unknown ones kept."""

    model_config = ConfigDict(extra="allow")


class Record(Part):
    """A whole run file: its fields plus the format version it was written in."""

    format_version: int = LEGACY_VERSION


class RunStatus(Record):
    """status.json: where the run stands, and why it stopped when it did not finish."""

    status: Status
    reason: str | None = None
    updated: str | None = None
    resume: str | None = None  # the command that continues an interrupted run


# ---------------------------------------------------------------- eval/before.json, after.json


class ScoreSummary(Part):
    """One metric over n items: the mean score and its 95% interval."""

    score: float | None
    n: int
    ci_low: float | None = None
    ci_high: float | None = None


class Judgment(Part):
    """One judge on one item: its raw replies, the verdict read from each, the item's value."""

    mode: str | None = None
    value: float | None = None  # None: unjudged (no verdict could be read)
    replies: list[str] = Field(default_factory=list)
    parsed: list[str | None] = Field(default_factory=list)
    note: str | None = OMITTED_WHEN_NONE


class JudgeSummary(Part):
    """One judge over the task: who judged, how many items it judged, left unjudged, asked."""

    mode: str | None = None
    judge: str | None = None
    judged: int = 0
    unjudged: int = 0
    unjudged_ids: list[str] = Field(default_factory=list)
    requests: int = 0  # sent to the judge; the others came from the judgment cache
    cached: int = 0


class ScoredItem(Part):
    """One evaluated item: what the model was asked, what it answered, how that scored."""

    id: str | None = None
    prompt: str | None = None
    output: str | None = None
    reference: Any = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    # only items scored on style_pass have it; the others' files stay as they were
    style_failed: list[str] | None = OMITTED_WHEN_NONE
    # only items scored on a judge:NAME metric have it, by judge name
    judgments: dict[str, Judgment] | None = OMITTED_WHEN_NONE


class ScoredSet(Part):
    """Scores of a set of items: per-metric summaries and every item."""

    metrics: dict[str, ScoreSummary] = Field(default_factory=dict)
    items: list[ScoredItem] = Field(default_factory=list)


class TaskResult(ScoredSet):
    """The user's task (data.test or held-out examples) scored on its metrics."""

    name: str | None = None
    judges: dict[str, JudgeSummary] | None = OMITTED_WHEN_NONE


class SequentialStop(Part):
    """How a guard's after-evaluation under `eval.sequential` ended (95% confidence sequence)."""

    items: int  # scored, in a seeded random order
    of: int  # the benchmark's items
    decided: str | None  # the verdict band the confidence sequence settled in; None: all scored
    interval_points: list[float]  # the confidence sequence's last interval of the mean change


class BenchmarkResult(ScoredSet):
    """One benchmark; `primary_metric` is the score the verdict uses."""

    primary_metric: str | None = None
    sequential: SequentialStop | None = OMITTED_WHEN_NONE


class EvalResult(Record):
    """eval/before.json or eval/after.json: one model state on the task and the benchmarks."""

    model: str | None = None
    adapter: str | None = None
    created: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    task: TaskResult | None = None
    benchmarks: dict[str, BenchmarkResult] = Field(default_factory=dict)
    elapsed_s: float | None = None
    eval_cache: dict[str, Any] | None = None  # {key_sha256, hit} when a cache supplied it

    def sections(self) -> list[tuple[str, ScoredSet]]:
        """('task', task) then (benchmark name, result) for each benchmark."""
        task: list[tuple[str, ScoredSet]] = [("task", self.task)] if self.task else []
        return task + list(self.benchmarks.items())


# ---------------------------------------------------------------- training_metrics.json


class ModelInfo(Part):
    """The base model as resolved, and its parameter counts with the adapter attached."""

    name_or_path: str | None = None
    kind: str | None = None
    location: str | None = None
    dtype: str | None = None
    parameters: dict[str, int | float] = Field(default_factory=dict)  # counts int, share float


class MemoryInfo(Part):
    """Peak memory of training and what kind of peak it is."""

    peak_memory_mib: float | None = None
    kind: str | None = None
    unit: str = "MiB"


class LossSummary(Part):
    """First, final and best losses, and throughput."""

    first_train_loss: float | None = None
    final_train_loss: float | None = None
    best_train_loss: float | None = None
    first_val_loss: float | None = None
    final_val_loss: float | None = None
    best_val_loss: float | None = None
    best_val_step: int | None = None
    tokens_per_second: float | None = None
    supervised_tokens_per_second: float | None = None


class GoalWatchSummary(Part):
    """The goal watched during training (train.goal_eval_steps) and the adapter the run kept."""

    keep: Literal["last", "best_goal", "best_val_loss"] = "last"
    kept_step: int | None = None  # the step whose adapter became the run's adapter
    kept_reason: str = ""
    evaluations: int = 0  # rows of goal_history.csv, step 0 included
    eval_time_s: float = 0.0  # spent in these evaluations, not counted in train_time_s
    task_items: int = 0  # items of the watched task subset
    guard_items: dict[str, int] = Field(default_factory=dict)  # per guard: its subset's items
    stopped_early: bool = False
    stop_reason: str | None = None


class TrainingMetrics(Record):
    """training_metrics.json: what was trained, how, and what it cost."""

    run_name: str | None = None
    created: str | None = None
    model: ModelInfo = Field(default_factory=ModelInfo)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    device: str | None = None
    processes: int = 1
    global_batch_size: int | None = None
    bf16_autocast: bool | None = None
    bf16_base: bool | None = None  # frozen base weights held in bf16 while training
    training_attention: str | None = None  # the training steps' (train.attention resolved)
    steps: int | None = None
    epochs: float | None = None
    tokens_seen: int | None = None  # supervised (loss-bearing) tokens, as in loss_history.csv
    input_tokens: int | None = None
    memory: MemoryInfo = Field(default_factory=MemoryInfo)
    train_time_s: float | None = None
    wall_time_s: float | None = None
    loss: LossSummary = Field(default_factory=LossSummary)
    versions: dict[str, str | None] = Field(default_factory=dict)
    torch_threads: int | None = None
    goal_watch: GoalWatchSummary | None = OMITTED_WHEN_NONE  # goal watching or keep not last


# ---------------------------------------------------------------- loss_history.csv


class LossRow(TypedDict):
    """One logged step of loss_history.csv (a plain dict); an empty cell is None."""

    step: int
    epoch: float | None
    train_loss: float | None
    val_loss: float | None
    learning_rate: float | None
    grad_norm: float | None
    tokens_seen: int | None  # supervised (loss-bearing) tokens so far
    elapsed_s: float | None


LOSS_COLUMNS = tuple(LossRow.__annotations__)
INT_COLUMNS = ("step", "tokens_seen")


# ---------------------------------------------------------------- goal_history.csv


class GoalRow(Part):
    """One goal evaluation of goal_history.csv: when it ran and the watched subsets' scores.

    In the file `task` is one `task:<metric>` column per task metric and `guards` one
    `guard:<benchmark>` column per guard (its primary metric); an empty cell is None.
    """

    step: int  # 0 is the base model, before the first optimizer step
    epoch: float
    tokens_seen: int  # supervised tokens so far, as in loss_history.csv
    elapsed_s: float  # training wall time so far, the goal evaluations not counted
    task: dict[str, float | None] = Field(default_factory=dict)
    guards: dict[str, float | None] = Field(default_factory=dict)


GOAL_FIXED_COLUMNS = ("step", "epoch", "tokens_seen", "elapsed_s")
GOAL_TASK_PREFIX, GOAL_GUARD_PREFIX = "task:", "guard:"


# ---------------------------------------------------------------- verdict.json


class DeltaRecord(Part):
    """One metric's before -> after change over paired items, in points with its interval."""

    name: str
    role: Literal["task", "guard"]
    before: float
    after: float
    n: int
    delta_points: float
    ci_low_points: float
    ci_high_points: float
    change: Change
    target: float | None = None
    target_reached: bool | None = None


class FlipRecord(Part):
    """Items of one judged metric that went right -> wrong or wrong -> right, paired by id.

    An item is right when its value of `metric` is at least 0.5 (1 for pass/fail metrics), so a
    continuous value flips only when it crosses 0.5; `p_value` is McNemar's exact two-sided test.
    """

    name: str
    role: Literal["task", "guard"]
    metric: str  # the per-item metric compared (a benchmark's primary metric)
    right_to_wrong: int
    wrong_to_right: int
    p_value: float
    right_to_wrong_ids: list[str] = Field(default_factory=list)
    wrong_to_right_ids: list[str] = Field(default_factory=list)


class FindingRecord(Part):
    """One diagnosis of the loss curve (or of the data), with its evidence and remedy."""

    kind: str
    severity: Literal["info", "warning", "error"]
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    recommendation: str | None = None


class VerdictRecord(Record):
    """verdict.json: the decision against the goal, its reasons, evidence and next steps."""

    verdict: str
    caution: bool = False
    purpose: str | None = None
    headline: str = ""
    reasons: list[str] = Field(default_factory=list)
    deltas: list[DeltaRecord] = Field(default_factory=list)
    flips: list[FlipRecord] = Field(default_factory=list)  # empty in files from before flips
    findings: list[FindingRecord] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------- audit.json


class LeakMatch(Part):
    """One held-out item found in the training data, and the training example it matches."""

    id: str
    kind: Literal["exact", "near", "reference"]
    similarity: float  # Jaccard of the prompts' shingles (1.0 for exact and reference matches)
    train: str  # where the matching training example came from


class LeakCounts(Part):
    """Items of a held-out set (test or validation) whose prompt or reference is in training.

    `exact`: same prompt after normalising whitespace and case; `near`: prompt shingles at least
    audit.near_duplicate_threshold alike; `reference`: a different prompt but the same (long)
    reference answer. Each leaked item counts once, under the first kind that matched.
    """

    checked: int
    exact: int = 0
    near: int = 0
    reference: int = 0
    items: list[str] = Field(default_factory=list)  # ids of every leaked item
    matches: list[LeakMatch] = Field(default_factory=list)


class DuplicateCounts(Part):
    """Repeats inside the training data: whole examples and near-duplicate prompts."""

    checked: int
    exact: int = 0  # examples repeating an earlier one (prompt and completion, normalised)
    near: int = 0  # other examples whose prompt is a near-duplicate of an earlier one
    examples: list[list[str]] = Field(default_factory=list)  # a few groups of locations


class Contamination(Part):
    """One benchmark's items that share an n-gram of words with the training data."""

    checked: int = 0
    contaminated: int = 0
    share: float = 0.0
    items: list[str] = Field(default_factory=list)
    skipped: str | None = None  # why the benchmark's items could not be checked


class LengthStats(Part):
    """Token lengths of the training examples (chat template applied, before truncation)."""

    count: int
    min: int | None = None
    median: float | None = None
    p95: float | None = None
    max: int | None = None
    max_seq_length: int
    over_max: int = 0  # examples longer than max_seq_length
    cut_by: Literal["truncate", "drop"] = "truncate"  # what data.truncation did to them


class CompletionStats(Part):
    """Answers of a set (training completions or test references) and how varied they are."""

    count: int
    empty: int = 0  # empty or whitespace-only
    empty_items: list[str] = Field(default_factory=list)
    most_common: str | None = None
    most_common_share: float = 0.0  # what always giving that answer would score on exact match


class AuditRecord(Record):
    """audit.json: the data audit before training (leakage, contamination, data quality)."""

    created: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)  # the audit section of the config
    train_examples: int = 0
    test_in_train: LeakCounts | None = None
    validation_in_train: LeakCounts | None = None
    train_duplicates: DuplicateCounts | None = None
    contamination: dict[str, Contamination] = Field(default_factory=dict)
    lengths: LengthStats | None = None
    completions: CompletionStats | None = None
    references: CompletionStats | None = None
    labels: dict[str, dict[str, int]] = Field(default_factory=dict)  # categorical fields
    warnings: list[str] = Field(default_factory=list)  # one sentence per problem found


# ---------------------------------------------------------------- parity.json (beside an export)


class ParityMetric(Part):
    """One task metric on the same items: the adapter model, the export, their paired difference.

    `diff_points` is export minus adapter in percentage points, with its 95% paired bootstrap
    interval; `worse` is true when the whole interval lies below -tolerance_points.
    """

    name: str
    adapter: float
    export: float
    n: int
    diff_points: float
    ci_low_points: float
    ci_high_points: float
    worse: bool
    differing_ids: list[str] = Field(default_factory=list)  # items scored differently


class ParityReader(Part):
    """The export as one reader loaded it (Transformers, or llama.cpp for a GGUF file)."""

    reader: Literal["transformers", "llama.cpp"]
    passed: bool
    metrics: list[ParityMetric] = Field(default_factory=list)
    output_differs_ids: list[str] = Field(default_factory=list)  # items answered differently


class ParityRecord(Record):
    """parity.json: the exported model re-scored on the run's task items against the adapter."""

    created: str | None = None
    run: str  # the run folder
    export: str  # the merged folder or the GGUF file
    kind: Literal["merged", "gguf"]
    items: int  # task items scored
    selection: str  # "all" or "first N"
    settings: dict[str, Any] = Field(default_factory=dict)  # metrics, max_new_tokens, ...
    passed: bool  # no reader found the export worse beyond noise
    readers: list[ParityReader] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict)  # reader -> why it did not run
    elapsed_s: float | None = None  # loading and scoring the export, every reader
