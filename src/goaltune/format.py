"""Figures as short text, shared by the verdict, the run report, the comparison, `goaltune runs`
and the model card, so a number reads the same wherever it is shown.

Pure functions on plain values and run-file records (stdlib only at run time, so the verdict
can use them without the report's plotting stack); each answers '-' for an unknown value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from goaltune.run_folder.schema import LossSummary, MemoryInfo, ScoreSummary


def get(mapping: Any, *keys: str) -> Any:
    """Nested lookup that yields None through missing keys or non-mappings (for the free-form
    parts of a run: config.yaml, hyperparameters, data statistics)."""
    for key in keys:
        mapping = mapping.get(key) if isinstance(mapping, Mapping) else None
    return mapping


def finite(value: Any) -> TypeGuard[float]:
    """A real number (not a bool, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def pct(value: Any, unit: str = "%") -> str:
    """A [0, 1] score as a percentage with one decimal ('31.0%'; unit '' where a header says %);
    '-' when unknown."""
    return f"{100 * value:.1f}{unit}" if finite(value) else "-"


def score_text(entry: ScoreSummary | None) -> str:
    """'31.0% [22.0, 40.0]' from an eval metric entry (score and 95% CI bounds in [0, 1])."""
    if entry is None:
        return "-"
    score, low, high = entry.score, entry.ci_low, entry.ci_high
    if not finite(score):
        return "-"
    if not finite(low) or not finite(high):
        return pct(score)
    return f"{pct(score)} [{100 * low:.1f}, {100 * high:.1f}]"


def points(value: Any, sign: str = "+") -> str:
    """A change in percentage points with one decimal, '+2.0' (sign '' or '-': '2.0')."""
    return f"{value:{sign}.1f}" if finite(value) else "-"


def prose_points(value: float, sign: str = "-") -> str:
    """Points for prose: one decimal at most, no trailing '.0', no '-0'; sign '+' to force one."""
    return f"{round(value, 1) + 0.0:{sign}.1f}".removesuffix(".0")


def count(value: Any) -> str:
    """A whole number with thousands separators."""
    return f"{int(value):,}" if finite(value) else "-"


def duration(seconds: Any) -> str:
    """'2 min 5 s (125.0 s)', or '42.0 s' under a minute."""
    if not finite(seconds):
        return "-"
    minutes, rest = divmod(float(seconds), 60)
    return f"{int(minutes)} min {rest:.0f} s ({seconds:,.1f} s)" if minutes else f"{rest:.1f} s"


def short_duration(seconds: Any) -> str:
    """'2m05s', or '42.0s' under a minute: for narrow terminal columns."""
    if not isinstance(seconds, (int, float)):
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"


def value_text(value: Any) -> str:
    """Any config or metadata value as short text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else "-"
    return str(value)


MEMORY_KINDS = {"process_peak_rss": "process peak RSS", "cuda_max_allocated": "CUDA max allocated"}


def memory_text(memory: MemoryInfo) -> str:
    """Peak memory from training_metrics.json, '1,234.5 MiB (process peak RSS)'."""
    peak = memory.peak_memory_mib
    if not finite(peak):
        return "-"
    kind = MEMORY_KINDS.get(memory.kind or "", memory.kind or "")
    text = f"{peak:,.1f} {memory.unit}"
    return text + (f" ({kind})" if kind else "")


def throughput_text(loss: LossSummary) -> str:
    """'1,200 tokens/s (300 supervised tokens/s)' from training_metrics.json's loss section."""
    total, supervised = loss.tokens_per_second, loss.supervised_tokens_per_second
    if not finite(total):
        return "-"
    text = f"{total:,.0f} tokens/s"
    return text + (f" ({supervised:,.0f} supervised tokens/s)" if finite(supervised) else "")


def parameters_text(counts: Mapping[str, Any]) -> str:
    """'12,345 of 1,234,567 (1.00%)' trainable parameters."""
    trainable, total, share = (counts.get(k) for k in ("trainable", "total", "trainable_percent"))
    if not finite(trainable):
        return "-"
    text = f"{count(trainable)} of {count(total)}"
    return text + (f" ({share:.2f}%)" if finite(share) else "")
