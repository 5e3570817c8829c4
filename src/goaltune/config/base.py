"""What every config section shares: strictness and the one evaluation batch-size default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# One default for every evaluation path (runs, `goaltune eval`, the library functions): the
# batch size the eval throughput benchmark measures against lm-eval.
DEFAULT_EVAL_BATCH_SIZE = 32


class _Strict(BaseModel):
    """Base for every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
