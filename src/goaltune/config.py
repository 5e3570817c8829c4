"""Run configuration: pydantic models validated from YAML, with the names TRL/PEFT users know."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from goaltune.errors import ConfigError

# One default for every evaluation path (runs, `goaltune eval`, the library functions): the
# batch size the eval throughput benchmark measures against lm-eval.
DEFAULT_EVAL_BATCH_SIZE = 32


class _Strict(BaseModel):
    """Base for every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Strict):
    """Which base model to load and how."""

    name_or_path: str = "smollm2-135m-instruct"
    revision: str | None = None
    trust_remote_code: bool = False
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    chat_template: str | None = Field(
        default=None,
        description="Jinja template overriding the tokenizer's (or the plain fallback).",
    )
    load_in_4bit: bool = Field(
        default=False, description="QLoRA: 4-bit NF4 base weights (bitsandbytes, CUDA only)."
    )


class MixSource(_Strict):
    """General instruction data blended into the training set (against forgetting)."""

    path: str
    weight: float = Field(gt=0.0, lt=1.0, description="Share of the final training set.")
    format: Literal["auto", "messages", "alpaca", "prompt_completion", "text"] = "auto"


class DataConfig(_Strict):
    """Where the training data comes from and how it becomes supervised examples."""

    train: str = "builtin:json-api"
    format: Literal["auto", "messages", "alpaca", "prompt_completion", "text"] = "auto"
    validation: str | None = None
    validation_split: float = Field(default=0.1, ge=0.0, lt=1.0)
    test: str | None = Field(
        default=None, description="Held-out task items for before/after evaluation."
    )
    max_train_examples: int | None = Field(default=None, ge=1)
    train_on: Literal["completions", "all"] = "completions"
    system_prompt: str | None = None
    truncation: Literal["truncate", "drop"] = "truncate"
    mix: list[MixSource] = Field(
        default_factory=list, description="Sources blended into training; validation stays main."
    )

    @field_validator("mix")
    @classmethod
    def _main_data_keeps_a_share(cls, value: list[MixSource]) -> list[MixSource]:
        if sum(source.weight for source in value) >= 1.0:
            raise ValueError("the mix weights must sum to less than 1 (the rest is data.train)")
        return value


class LoraConfig(_Strict):
    """LoRA adapter hyperparameters (PEFT names)."""

    r: int = Field(default=16, ge=1)
    lora_alpha: int = Field(default=32, ge=1)
    lora_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    use_dora: bool = False


class TrainConfig(_Strict):
    """Optimisation hyperparameters (TRL/Transformers names)."""

    learning_rate: float = Field(default=2e-4, gt=0)
    num_train_epochs: float = Field(default=1.0, gt=0)
    max_steps: int | None = Field(default=None, ge=1)
    per_device_train_batch_size: int = Field(default=8, ge=1)
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    max_seq_length: int = Field(default=512, ge=8)
    warmup_ratio: float = Field(default=0.05, ge=0.0, le=1.0)
    lr_scheduler_type: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    weight_decay: float = Field(default=0.0, ge=0.0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    seed: int = 42
    logging_steps: int = Field(default=1, ge=1)
    eval_steps: int = Field(default=20, ge=1)
    bf16: Literal["auto", "true", "false"] | bool = "auto"
    save_steps: int = Field(default=50, ge=1)
    save_total_limit: int = Field(default=2, ge=1)
    max_bad_batches: int = Field(default=0, ge=0)
    length_bucketing: bool = True
    supervised_logits_only: bool = True
    gradient_checkpointing: bool = False
    report_to: list[Literal["tensorboard", "mlflow"]] = Field(
        default_factory=list,
        description="Experiment trackers that also receive the run (TRL's name; 'none' = []).",
    )

    @field_validator("report_to", mode="before")
    @classmethod
    def _one_name_or_none(cls, value: Any) -> Any:
        # TRL accepts a single string as well as a list
        if isinstance(value, str):
            return [] if value == "none" else [value]
        return value


class StyleCheck(_Strict):
    """One deterministic style check of the `style_pass` metric (docs/BENCHMARK.md lists them)."""

    check: str
    value: Any = Field(default=None, validate_default=True)

    @field_validator("check")
    @classmethod
    def _known_check(cls, value: str) -> str:
        # The checks have one home, the metric's module; imported here, not at the top, so
        # reading a config does not import the evaluation package.
        from goaltune.evaluate.metrics.style import check_name

        return check_name(value)

    @field_validator("value")
    @classmethod
    def _valid_argument(cls, value: Any, info: ValidationInfo) -> Any:
        from goaltune.evaluate.metrics.style import check_argument

        check = info.data.get("check")
        return value if check is None else check_argument(check, value)


def _benchmark_specs(value: Any) -> Any:
    """Benchmarks given as YAML mappings (`{name: gsm8k, num_fewshot: 5}`) as their string specs."""
    from goaltune.errors import BenchmarkError
    from goaltune.evaluate.benchmarks.registry import spec_from_mapping

    if not isinstance(value, list):
        return value
    try:
        return [spec_from_mapping(v) if isinstance(v, dict) else v for v in value]
    except BenchmarkError as error:
        raise ValueError(str(error)) from error


class EvalConfig(_Strict):
    """Before/after evaluation settings."""

    metrics: list[str] = Field(default_factory=lambda: ["exact_match"])
    benchmarks: list[str] = Field(
        default_factory=list,
        description="Benchmark specs, strings (`gsm8k:num_fewshot=5`) or mappings "
        "(`{name: gsm8k, num_fewshot: 5}`).",
    )
    max_new_tokens: int = Field(default=256, ge=1)
    batch_size: int = Field(default=DEFAULT_EVAL_BATCH_SIZE, ge=1)
    limit: int | None = Field(default=None, ge=1)
    benchmark_limit: int | None = Field(default=None, ge=1)
    benchmark_data_dir: str | None = None
    bootstrap_resamples: int = Field(default=1000, ge=100)
    shared_context: bool = Field(
        default=True,
        description="Score a context's choices in one packed pass (off: one pass "
        "per choice, log-likelihoods bit-identical to lm-eval's).",
    )

    _specs = field_validator("benchmarks", mode="before")(_benchmark_specs)
    style: list[StyleCheck] = Field(
        default_factory=list,
        description="Checks of the style_pass metric, which is added to metrics when missing.",
    )

    @model_validator(mode="after")
    def _style_is_scored(self) -> EvalConfig:
        if self.style and "style_pass" not in self.metrics:
            self.metrics = [*self.metrics, "style_pass"]
        return self


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


class RunConfig(_Strict):
    """One fine-tuning run: model, data, LoRA, training, evaluation and goal.

    Guard benchmarks and file-benchmark task metrics (e.g. `mc:data/test.jsonl`) are evaluated
    even when eval.benchmarks does not list them: they are appended to it.
    """

    name: str = "run"
    output_dir: str = "runs"
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    goal: GoalConfig = Field(default_factory=GoalConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)

    @model_validator(mode="after")
    def _evaluate_goal_benchmarks(self) -> RunConfig:
        # the registry knows the file-benchmark kinds; it imports nothing heavy
        from goaltune.evaluate.benchmarks.registry import file_spec

        named = [
            *(m.name for m in self.goal.task_metrics if file_spec(m.name) is not None),
            *self.goal.guard_benchmarks,
        ]
        missing = [spec for spec in dict.fromkeys(named) if spec not in self.eval.benchmarks]
        if missing:
            self.eval.benchmarks = [*self.eval.benchmarks, *missing]
        return self


def format_validation_error(error: ValidationError, source: str) -> str:
    """One line per problem, each naming the key path, e.g. `train.lr: extra key`."""
    lines = []
    for item in error.errors():
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        path = path.removeprefix(".") or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{path}'")
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"{source}: {path}: {message} (got {item.get('input')!r})")
    return "\n".join(lines)


def config_from_dict(raw: dict[str, Any], source: str = "config") -> RunConfig:
    """Validate a plain dict into a RunConfig, raising ConfigError naming the key path."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, source)) from error


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a YAML config file, apply dotted-path overrides, and validate it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        where, problem = _yaml_where(path, error), _yaml_problem(error)
        raise ConfigError(f"{where}: not valid YAML ({problem})") from error
    for key, value in (overrides or {}).items():
        set_by_path(raw, resolve_key_path(key), value)
    config = config_from_dict(raw, source=str(path))
    anchor_paths(config, path.parent)
    return config


def _yaml_where(path: Path, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)


def _yaml_problem(error: yaml.YAMLError) -> str:
    parts = (getattr(error, "problem", None), getattr(error, "context", None))
    return " ".join(part for part in parts if part) or str(error).splitlines()[0]


_PATH_FIELDS = (
    ("data", "train"),
    ("data", "validation"),
    ("data", "test"),
    ("eval", "benchmark_data_dir"),
    ("model", "name_or_path"),
)


def _anchored(value: str, base: Path) -> str:
    """`base / value` when value is missing from the working folder but present under base."""
    if value and not Path(value).expanduser().exists() and (base / value).exists():
        return str(base / value)
    return value


def anchor_spec(spec: str, base: Path) -> str:
    """A file benchmark spec with its path anchored like the data paths; others unchanged."""
    from goaltune.evaluate.benchmarks.registry import file_spec

    parts = file_spec(spec)
    if parts is None:
        return spec
    return replace(parts, path=_anchored(parts.path, base)).text()


def _anchor_benchmark_specs(config: RunConfig, base: Path) -> None:
    """The same anchoring in eval.benchmarks, the guards and the task metric names, so a task
    metric still names its benchmark's results."""
    config.eval.benchmarks = [anchor_spec(s, base) for s in config.eval.benchmarks]
    config.goal.guard_benchmarks = [anchor_spec(s, base) for s in config.goal.guard_benchmarks]
    for metric in config.goal.task_metrics:
        metric.name = anchor_spec(metric.name, base)


def anchor_paths(config: RunConfig, base: Path) -> None:
    """Relative paths missing from the working folder but present under `base` point there."""
    for section_name, key in _PATH_FIELDS:
        section = getattr(config, section_name)
        value = getattr(section, key)
        if value and not Path(value).expanduser().exists() and (base / value).exists():
            setattr(section, key, str(base / value))
    for source in config.data.mix:
        if not Path(source.path).expanduser().exists() and (base / source.path).exists():
            source.path = str(base / source.path)
    _anchor_benchmark_specs(config, base)


_SECTIONS = ("model", "data", "lora", "train", "eval", "goal", "audit")


def resolve_key_path(key: str) -> str:
    """Expand a short key such as `num_train_epochs` to its full path `train.num_train_epochs`."""
    if "." in key or key in RunConfig.model_fields:
        return key
    for section in _SECTIONS:
        section_model = RunConfig.model_fields[section].annotation
        if key in section_model.model_fields:  # type: ignore[union-attr]
            return f"{section}.{key}"
    if key == "dataset":
        return "data.train"
    raise ConfigError(f"unknown config key '{key}'")


def set_by_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `value` at a dotted key path inside a nested dict, creating sections as needed."""
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def get_by_path(config: RunConfig | dict[str, Any], key: str) -> Any:
    """Read a (short or dotted) key path from a config or its dict dump."""
    node: Any = config.model_dump() if isinstance(config, RunConfig) else config
    if key == "model":
        return node["model"]["name_or_path"]
    for part in resolve_key_path(key).split("."):
        node = node[part]
    return node


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML, defaults filled in."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
