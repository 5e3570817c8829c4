"""The model, data, LoRA and train sections (the names TRL and PEFT users know)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from goaltune.config.base import _Strict


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


class EarlyStopping(_Strict):
    """Stop training on the goal watched during training (train.goal_eval_steps); off by default."""

    patience: int | None = Field(
        default=None, ge=1, description="Goal evaluations without a new best before stopping."
    )
    guard_budget: bool = Field(
        default=False,
        description="Stop once a guard's subset score falls more than "
        "goal.thresholds.investigate_drop_points below its step-0 score.",
    )


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
    bf16_base: bool = Field(
        default=True,
        description="With bf16 on: frozen base weights held in bf16, cast once, not every step.",
    )
    attention: Literal["auto", "model", "eager", "sdpa"] = Field(
        default="auto",
        description="Attention of the training steps; auto: eager on a CPU under bf16 for "
        "max_seq_length <= 512 (faster there), else the model's own.",
    )
    save_steps: int = Field(default=50, ge=1)
    save_total_limit: int = Field(default=2, ge=1)
    max_bad_batches: int = Field(default=0, ge=0)
    length_bucketing: bool = True
    packing: bool = Field(
        default=False,
        description="Pack a batch's examples into fewer rows, kept apart by position ids.",
    )
    supervised_logits_only: bool = True
    gradient_checkpointing: bool = False
    report_to: list[Literal["tensorboard", "mlflow", "wandb", "trackio"]] = Field(
        default_factory=list,
        description="Experiment trackers that also receive the run (TRL's name; 'none' = []).",
    )
    goal_eval_steps: int | None = Field(
        default=None, ge=1, description="Evaluate the goal every N steps (and at 0 and the end)."
    )
    # sized so that three watches (step 0, the middle, the end) add about 20% to the demo's training
    goal_eval_items: int = Field(default=20, ge=1, description="Seeded subset of task items.")
    guard_eval_items: int = Field(default=60, ge=1, description="Subset of each guard's items.")
    guard_generation_items: int = Field(
        default=8, ge=1, description="At most this many items of a guard that generates."
    )
    keep: Literal["last", "best_goal", "best_val_loss"] = Field(
        default="last", description="Which step's adapter becomes the run's adapter."
    )
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)

    @model_validator(mode="after")
    def _goal_watching_is_on(self) -> TrainConfig:
        stops = self.early_stopping.patience is not None or self.early_stopping.guard_budget
        if self.goal_eval_steps is None and (self.keep == "best_goal" or stops):
            raise ValueError("keep: best_goal and early_stopping need train.goal_eval_steps")
        return self

    @field_validator("report_to", mode="before")
    @classmethod
    def _one_name_or_none(cls, value: Any) -> Any:
        # TRL accepts a single string as well as a list
        if isinstance(value, str):
            return [] if value == "none" else [value]
        return value
