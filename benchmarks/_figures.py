"""Figures as table cells, shared by the benchmark scripts and the table renderer (no imports of
either, so neither depends on the other)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / theirs, or None when either is missing or zero."""
    if not ours or not theirs:
        return None
    return round(ours / theirs, 3)


def fmt(value: Any, digits: int = 2) -> str:
    """A table cell: rounded numbers, '-' for missing values."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
