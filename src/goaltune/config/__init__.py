"""Run configuration: pydantic models validated from YAML, with the names TRL/PEFT users know.

The sections live in the modules beside this one; this one holds the whole run and its loading.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from goaltune.config.base import DEFAULT_EVAL_BATCH_SIZE, _Strict
from goaltune.config.evaluation import EvalConfig, JudgeConfig, StyleCheck
from goaltune.config.goal import AuditConfig, GoalConfig, TaskMetricGoal, Thresholds
from goaltune.config.training import DataConfig, LoraConfig, MixSource, ModelConfig, TrainConfig
from goaltune.errors import ConfigError

__all__ = [
    "DEFAULT_EVAL_BATCH_SIZE",
    "AuditConfig",
    "DataConfig",
    "EvalConfig",
    "GoalConfig",
    "JudgeConfig",
    "LoraConfig",
    "MixSource",
    "ModelConfig",
    "RunConfig",
    "StyleCheck",
    "TaskMetricGoal",
    "Thresholds",
    "TrainConfig",
    "anchor_paths",
    "anchor_spec",
    "config_from_dict",
    "dump_config",
    "format_validation_error",
    "get_by_path",
    "load_config",
    "resolve_key_path",
    "set_by_path",
]


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
