"""Report charts as PNG bytes: scores before/after with 95% CIs, and loss curves of several runs.

Figures are drawn on matplotlib's Agg canvas without pyplot, so no global state or display is used.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from goaltune.format import finite
from goaltune.run_folder import GoalRow, ScoreSummary

BEFORE_COLOR = "#a3acb9"
AFTER_COLOR = "#2563eb"
TARGET_COLOR = "#16a34a"
VAL_COLOR = "#ea580c"
RUN_COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2")
DPI = 110
WIDTH_IN = 9.3  # 1023 px at DPI: the report column's width

History = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Score:
    """A score in [0, 1] with its 95% interval (bounds may be unknown)."""

    score: float
    ci_low: float | None = None
    ci_high: float | None = None

    @classmethod
    def from_entry(cls, entry: ScoreSummary | None) -> Score | None:
        """A Score from an eval-file metric entry; None when absent or not a finite number."""
        if entry is None or not finite(entry.score):
            return None
        low, high = entry.ci_low, entry.ci_high
        return cls(entry.score, low if finite(low) else None, high if finite(high) else None)


@dataclass(frozen=True)
class ScoreRow:
    """One metric of a before/after chart; `target` is the goal's score in [0, 1], if any."""

    label: str
    before: Score | None
    after: Score | None
    target: float | None = None


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _style(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)
    ax.set_axisbelow(True)


def _error(scores: Sequence[Score]) -> np.ndarray:
    """Asymmetric error-bar lengths in points (zero where a bound is unknown)."""
    low = [s.score - s.ci_low if s.ci_low is not None else 0.0 for s in scores]
    high = [s.ci_high - s.score if s.ci_high is not None else 0.0 for s in scores]
    return np.clip(np.array([low, high]) * 100, 0, None)


def _draw_side(
    ax: Axes, y: np.ndarray, scores: Sequence[Score | None], height: float, color: str, label: str
) -> None:
    present = [(pos, s) for pos, s in zip(y, scores) if s is not None]
    if not present:
        return
    positions, values = zip(*present)
    ax.barh(
        positions,
        [100 * s.score for s in values],
        height,
        xerr=_error(values),
        color=color,
        label=label,
        error_kw={"ecolor": "#374151", "capsize": 3, "elinewidth": 1},
    )
    for pos, s in present:
        end = 100 * (s.ci_high if s.ci_high is not None else s.score)
        ax.text(end + 1.2, pos, f"{100 * s.score:.0f}%", va="center", fontsize=8, color="#374151")


def before_after_png(
    rows: Sequence[ScoreRow],
    title: str | None = None,
    labels: tuple[str, str] = ("before", "after"),
) -> bytes:
    """Horizontal grouped bars of two score sets with 95% CI error bars and optional targets."""
    fig = Figure(figsize=(WIDTH_IN, 1.3 + 0.62 * max(len(rows), 1)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1].astype(float)
    height = 0.38
    _draw_side(ax, y + height / 2, [r.before for r in rows], height, BEFORE_COLOR, labels[0])
    _draw_side(ax, y - height / 2, [r.after for r in rows], height, AFTER_COLOR, labels[1])
    targets = [(pos, r.target) for pos, r in zip(y, rows) if finite(r.target)]
    for index, (pos, target) in enumerate(targets):
        ax.plot(
            [100 * target] * 2,
            [pos - 0.48, pos + 0.48],
            color=TARGET_COLOR,
            ls="--",
            lw=1.5,
            label="target" if index == 0 else None,
        )
    ax.set_yticks(y, [r.label for r in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(0, 112)
    ax.set_xticks(range(0, 101, 20))
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.xaxis.grid(True, color="#e5e7eb")
    ax.set_xlabel("score with 95% confidence interval", fontsize=9)
    _style(ax)
    handles, names = ax.get_legend_handles_labels()
    order = sorted(range(len(names)), key=lambda i: names[i] == "target")
    ax.legend(
        [handles[i] for i in order],
        [names[i] for i in order],
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncol=3,
        frameon=False,
        fontsize=9,
    )
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    return _png(fig)


def smooth(values: Sequence[float], window: int | None = None) -> np.ndarray:
    """Centered moving median (robust to spikes) whose window shrinks at the ends; the window
    defaults to ~10% of the points (odd, 3 to 51)."""
    data = np.asarray(values, dtype=float)
    if window is None:
        window = min(max(3, int(len(data) * 0.1) | 1), 51)
    half = window // 2
    if len(data) <= 2 * half:
        return np.array(
            [np.median(data[max(0, i - half) : i + half + 1]) for i in range(len(data))]
        )
    head = [np.median(data[: i + half + 1]) for i in range(half)]
    tail = [np.median(data[i - half :]) for i in range(len(data) - half, len(data))]
    middle = np.median(np.lib.stride_tricks.sliding_window_view(data, 2 * half + 1), axis=1)
    return np.concatenate([head, middle, tail])


def series(rows: History, column: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one loss-history column, skipping empty and non-finite values."""
    pairs = [
        (row["step"], row[column])
        for row in rows
        if finite(row.get(column)) and finite(row.get("step"))
    ]
    return [float(s) for s, _ in pairs], [float(v) for _, v in pairs]


def _plot_loss(ax: Axes, rows: History, color: str, prefix: str, val_color: str) -> bool:
    steps, train = series(rows, "train_loss")
    val_steps, val = series(rows, "val_loss")
    if steps:
        ax.plot(steps, train, color=color, alpha=0.25, lw=1, label=f"{prefix}train (raw)")
        ax.plot(steps, smooth(train), color=color, lw=2, label=f"{prefix}train (smoothed)")
    if val_steps:
        ax.plot(
            val_steps,
            val,
            color=val_color,
            ls="--",
            lw=1.5,
            marker="o",
            ms=5,
            label=f"{prefix}validation",
        )
    return bool(steps or val_steps)


def loss_curve_png(histories: Mapping[str, History], title: str | None = None) -> bytes:
    """Train loss (raw and smoothed) and validation loss vs step, one color per run; the learning
    rate in a small panel below when logged."""
    has_lr = any(series(rows, "learning_rate")[0] for rows in histories.values())
    fig = Figure(figsize=(WIDTH_IN, 5.4 if has_lr else 4.0), layout="constrained")
    if has_lr:
        loss_ax, lr_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        loss_ax, lr_ax = fig.add_subplot(), None
    single = len(histories) == 1
    plotted = False
    for index, (label, rows) in enumerate(histories.items()):
        color = RUN_COLORS[index % len(RUN_COLORS)]
        prefix = "" if single else f"{label}: "
        plotted |= _plot_loss(loss_ax, rows, color, prefix, VAL_COLOR if single else color)
        if lr_ax is not None:
            lr_ax.plot(*series(rows, "learning_rate"), color=color, lw=1.5)
    if not plotted:
        loss_ax.text(
            0.5,
            0.5,
            "no loss logged",
            ha="center",
            va="center",
            transform=loss_ax.transAxes,
            color="#6b7280",
        )
    loss_ax.set_ylabel("loss", fontsize=9)
    loss_ax.grid(True, color="#e5e7eb")
    if plotted:
        loss_ax.legend(fontsize=8, frameon=False, ncol=1 if single else 2)
    _style(loss_ax)
    bottom = lr_ax if lr_ax is not None else loss_ax
    bottom.set_xlabel("optimizer step", fontsize=9)
    if lr_ax is not None:
        lr_ax.set_ylabel("learning rate", fontsize=9)
        lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        lr_ax.yaxis.get_offset_text().set_fontsize(8)
        lr_ax.grid(True, color="#e5e7eb")
        _style(lr_ax)
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    return _png(fig)


def _goal_lines(
    ax: Axes,
    rows: Sequence[GoalRow],
    role: str,
    x: str = "step",
    run: tuple[str, str] | None = None,
) -> None:
    """One line per task metric (solid) or guard (dashed); `run` = (label, color) of one of
    several runs, else each metric has its own color."""
    names = list((rows[0].task if role == "task" else rows[0].guards) if rows else [])
    offset = 0 if role == "task" else len(rows[0].task)
    for index, name in enumerate(names):
        points = [
            (getattr(r, x), 100 * value)
            for r in rows
            if finite(value := (r.task if role == "task" else r.guards).get(name))
        ]
        if points:
            color = run[1] if run else RUN_COLORS[(offset + index) % len(RUN_COLORS)]
            ax.plot(
                *zip(*points),
                color=color,
                ls="-" if role == "task" else "--",
                marker="o" if role == "task" else "s",
                ms=4,
                lw=1.8,
                label=(f"{run[0]}: " if run else "") + f"{role}: {name}",
            )


def _goal_axes(ax: Axes, xlabel: str) -> None:
    ax.set_ylim(0, 102)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_ylabel("score on the watched subset", fontsize=9)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.grid(True, color="#e5e7eb")
    ax.legend(fontsize=8, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3)
    _style(ax)


def goal_curve_png(rows: Sequence[GoalRow], kept_step: int | None = None) -> bytes:
    """The watched task metrics (solid) and guards (dashed) vs step, the kept step marked."""
    fig = Figure(figsize=(WIDTH_IN, 3.8), layout="constrained")
    ax = fig.add_subplot()
    _goal_lines(ax, rows, "task")
    _goal_lines(ax, rows, "guard")
    if kept_step is not None:
        ax.axvline(kept_step, color=TARGET_COLOR, ls=":", lw=2, label=f"kept: step {kept_step}")
    _goal_axes(ax, "optimizer step")
    return _png(fig)


def goal_curves_png(histories: Mapping[str, Sequence[GoalRow]]) -> bytes:
    """Several runs' goal curves on one chart, aligned by supervised tokens seen."""
    fig = Figure(figsize=(WIDTH_IN, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for index, (label, rows) in enumerate(histories.items()):
        run = (label, RUN_COLORS[index % len(RUN_COLORS)])
        _goal_lines(ax, rows, "task", "tokens_seen", run)
        _goal_lines(ax, rows, "guard", "tokens_seen", run)
    _goal_axes(ax, "supervised tokens seen")
    return _png(fig)
