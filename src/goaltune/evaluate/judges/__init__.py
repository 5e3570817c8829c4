"""Judges: a rubric scored by a model, locally or behind an OpenAI-compatible endpoint.

`prompts` builds what a judge is asked and reads its reply, `backends` sends the requests,
`cache` keeps every reply on disk, and `core` turns replies into the `judge:NAME` metric.
"""

from goaltune.evaluate.judges.backends import probe_judges
from goaltune.evaluate.judges.core import (
    JUDGE_PREFIX,
    Judging,
    base_outputs,
    judge_names,
    judge_records,
)

__all__ = [
    "JUDGE_PREFIX",
    "Judging",
    "base_outputs",
    "judge_names",
    "judge_records",
    "probe_judges",
]
