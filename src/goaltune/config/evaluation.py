"""The eval section: metrics, benchmarks, style checks and judges."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from goaltune.config.base import DEFAULT_EVAL_BATCH_SIZE, _Strict


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


class JudgeConfig(_Strict):
    """One judge of the `judge:NAME` metric: a rubric, a judge model or endpoint, a mode."""

    rubric: str = Field(min_length=1)
    model: str | None = Field(
        default=None,
        description="A model goaltune loads (run in-process), or with base_url the endpoint's "
        "model name (default: the first it lists).",
    )
    base_url: str | None = Field(
        default=None, description="An OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1."
    )
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding the endpoint's API key."
    )
    mode: Literal["pass_fail", "score_1_5", "pairwise"] = "pass_fail"
    max_tokens: int = Field(default=64, ge=1, description="Longest judge reply.")
    timeout: float = Field(default=60.0, gt=0, description="Seconds per endpoint request.")
    max_retries: int = Field(default=3, ge=0, description="Retries (with backoff) per request.")
    concurrency: int = Field(default=4, ge=1, description="Endpoint requests in flight at once.")

    @model_validator(mode="after")
    def _has_a_judge(self) -> JudgeConfig:
        if self.base_url is None and self.model is None:
            raise ValueError("give the judge a model (run locally) or a base_url (an endpoint)")
        if self.base_url is None and self.api_key_env is not None:
            raise ValueError("api_key_env is for a base_url endpoint")
        return self


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
    prompt_lookup: int = Field(
        default=0,
        ge=0,
        description="Draft tokens copied from the prompt and verified per generation step "
        "(prompt-lookup decoding; greedy's outputs); 0: off.",
    )
    sequential: bool = Field(
        default=False,
        description="After training, stop scoring a guard benchmark once an anytime-valid "
        "confidence sequence for its paired change decides its verdict band.",
    )

    _specs = field_validator("benchmarks", mode="before")(_benchmark_specs)
    style: list[StyleCheck] = Field(
        default_factory=list,
        description="Checks of the style_pass metric, which is added to metrics when missing.",
    )

    judges: dict[str, JudgeConfig] = Field(
        default_factory=dict,
        description="Judges by name; each is the metric judge:NAME, added to metrics when missing.",
    )

    @model_validator(mode="after")
    def _style_is_scored(self) -> EvalConfig:
        if self.style and "style_pass" not in self.metrics:
            self.metrics = [*self.metrics, "style_pass"]
        return self

    @model_validator(mode="after")
    def _judges_are_scored(self) -> EvalConfig:
        unknown = [m for m in self.metrics if m.startswith("judge:") and m[6:] not in self.judges]
        if unknown:
            raise ValueError(f"metric {unknown[0]} names no judge in eval.judges")
        missing = [f"judge:{name}" for name in self.judges if f"judge:{name}" not in self.metrics]
        if missing:
            self.metrics = [*self.metrics, *missing]
        return self
