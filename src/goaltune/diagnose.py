"""Loss-curve diagnosis: read `loss_history.csv` and turn its shape into findings with remedies."""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import asdict, dataclass
from statistics import median
from typing import Any, Literal, TypeGuard

Severity = Literal["info", "warning", "error"]

MIN_ROWS = 5  # fewer finite train losses than this: no trend analysis
SMOOTH_FRACTION = 0.1  # moving-median window as a fraction of the history ...
SMOOTH_MIN_WINDOW, SMOOTH_MAX_WINDOW = 3, 51  # ... kept within these bounds (odd sizes)
TAIL_FRACTION = 0.25  # the "last part" of training that trend decisions look at
MIN_TAIL_POINTS = 3
STILL_IMPROVING_DROP = 0.05  # relative fall over the tail that means "still learning"
UNDERFIT_DROP = 0.10  # relative fall over the whole run below which the model barely learned
SPIKE_WINDOW = 10  # preceding steps that define the running level for spike detection
SPIKE_MIN_HISTORY = 5  # steps needed before the first spike can be judged
SPIKE_MAD_K = 5.0  # a spike is above median + k * MAD of the window ...
SPIKE_RATIO = 1.5  # ... and above this multiple of the median
MAX_REPORTED_STEPS = 20  # evidence lists are cut to this many steps
MIN_VAL_POINTS = 3  # validation points needed to judge overfitting
OVERFIT_RISE = 0.05  # relative rise of validation loss above its best that counts as overfitting
EPS = 1e-12


@dataclass
class Finding:
    """One diagnosis of the loss curve, with the evidence behind it and what to do about it."""

    kind: str
    severity: Severity
    message: str
    evidence: dict[str, Any]
    recommendation: str

    def to_dict(self) -> dict[str, Any]:
        """The finding as it appears in verdict.json."""
        return asdict(self)


def forgetting_remedies() -> list[str]:
    """The known remedies when guard benchmarks dropped (catastrophic forgetting)."""
    return [
        "Train for fewer epochs (1-2); forgetting grows with every pass over narrow data.",
        "Use a lower LoRA rank (lora.r 8-16) so the adapter changes less of the model.",
        "Mix general instruction examples into the training data (data.mix).",
        "Use larger and more diverse training data.",
        "Start from an instruction-tuned base model, which keeps general skills better.",
    ]


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _num(value: float) -> float | str:
    """A JSON-safe evidence value: rounded if finite, its string ('nan', 'inf') otherwise."""
    return round(value, 4) if math.isfinite(value) else str(value)


def _relative_drop(start: float, end: float) -> float:
    """How much `end` fell below `start`, as a fraction of `start` (negative when it rose)."""
    return (start - end) / max(abs(start), EPS)


def moving_median(values: list[float], window: int) -> list[float]:
    """Centred moving median (window shrinks at the ends): smooths noise and ignores spikes."""
    half = window // 2
    return [median(values[max(0, i - half) : i + half + 1]) for i in range(len(values))]


def _first_non_finite(rows: list[dict[str, Any]]) -> tuple[Any, str, float] | None:
    """(step, column, value) of the first NaN/inf train or validation loss."""
    for row in rows:
        for column in ("train_loss", "val_loss"):
            value = row.get(column)
            if _is_number(value) and not math.isfinite(value):
                return row["step"], column, value
    return None


def _non_finite(rows: list[dict[str, Any]]) -> list[Finding]:
    first = _first_non_finite(rows)
    if first is None:
        return []
    step, column, value = first
    return [
        Finding(
            kind="non_finite",
            severity="error",
            message=f"{column} became {value} at step {step}: training diverged.",
            evidence={"step": step, column: str(value)},
            recommendation=(
                "Lower the learning rate (e.g. halve it) and check the data for empty or "
                "extremely long examples; keep max_grad_norm at 1.0 or lower."
            ),
        )
    ]


def spike_steps(steps: list[int], losses: list[float]) -> list[int]:
    """Steps whose loss is far above the robust running level of the preceding window."""
    found = []
    for i in range(SPIKE_MIN_HISTORY, len(losses)):
        window = losses[max(0, i - SPIKE_WINDOW) : i]
        level = median(window)
        mad = median(abs(x - level) for x in window)
        if losses[i] > level + SPIKE_MAD_K * mad and losses[i] > SPIKE_RATIO * level:
            found.append(steps[i])
    return found


def _instability(steps: list[int], losses: list[float]) -> list[Finding]:
    spikes = spike_steps(steps, losses)
    if not spikes:
        return []
    by_step = dict(zip(steps, losses))
    shown = spikes[:MAX_REPORTED_STEPS]
    return [
        Finding(
            kind="instability",
            severity="warning",
            message=f"Training loss spiked at step(s) {', '.join(map(str, shown))}.",
            evidence={"steps": shown, "train_losses": [_num(by_step[s]) for s in shown]},
            recommendation=(
                "Lower the learning rate or raise warmup_ratio, and inspect the examples trained "
                "at those steps for outliers (very long, empty or mislabeled)."
            ),
        )
    ]


def _value_at_step(steps: list[int], values: list[float], step: int) -> float:
    """The value logged at the last step not after `step` (the first value if none)."""
    return values[max(0, bisect_right(steps, step) - 1)]


def _overfitting(
    rows: list[dict[str, Any]], steps: list[int], smooth: list[float]
) -> list[Finding]:
    val = [
        (r["step"], r["val_loss"])
        for r in rows
        if _is_number(r.get("val_loss")) and math.isfinite(r["val_loss"])
    ]
    if len(val) < MIN_VAL_POINTS:
        return []
    best_step, best = min(val, key=lambda p: p[1])
    last_step, last = val[-1]
    train_at_best = _value_at_step(steps, smooth, best_step)
    rise = -_relative_drop(best, last)
    if best_step == last_step or rise < OVERFIT_RISE or smooth[-1] >= train_at_best:
        return []
    return [
        Finding(
            kind="overfitting",
            severity="warning",
            message=(
                f"Validation loss was lowest at step {best_step} ({best:.4g}) and rose "
                f"{rise:.0%} by step {last_step} while training loss kept falling: overfitting."
            ),
            evidence={
                "best_step": best_step,
                "best_val_loss": _num(best),
                "final_step": last_step,
                "final_val_loss": _num(last),
                "train_loss_at_best": _num(train_at_best),
                "final_train_loss": _num(smooth[-1]),
            },
            recommendation=(
                f"Stop at step {best_step} (set max_steps={best_step}) or train fewer epochs; "
                "more and more varied data also delays overfitting."
            ),
        )
    ]


def _epochs_text(rows: list[dict[str, Any]]) -> str:
    """'one epoch' or e.g. '3 epochs', from the epoch of the last row."""
    epoch = rows[-1].get("epoch")
    if not _is_number(epoch) or not math.isfinite(epoch) or round(epoch) <= 1:
        return "one epoch"
    return f"{epoch:.3g} epochs"


def _trend(rows: list[dict[str, Any]], steps: list[int], smooth: list[float]) -> list[Finding]:
    """still_improving, converged and underfitting from the smoothed training loss."""
    tail = max(MIN_TAIL_POINTS, round(len(smooth) * TAIL_FRACTION))
    tail_start = len(smooth) - tail
    tail_drop = _relative_drop(smooth[tail_start], smooth[-1])
    overall_drop = _relative_drop(smooth[0], smooth[-1])
    evidence = {
        "first_step": steps[0],
        "tail_start_step": steps[tail_start],
        "last_step": steps[-1],
        "smoothed_first": _num(smooth[0]),
        "smoothed_tail_start": _num(smooth[tail_start]),
        "smoothed_last": _num(smooth[-1]),
        "tail_drop": _num(tail_drop),
        "overall_drop": _num(overall_drop),
    }
    findings = []
    if tail_drop >= STILL_IMPROVING_DROP:
        findings.append(
            Finding(
                kind="still_improving",
                severity="info",
                message=(
                    f"Loss was still falling at the last step ({tail_drop:.0%} over the last "
                    f"{TAIL_FRACTION:.0%} of steps): {_epochs_text(rows)} was not enough."
                ),
                evidence=evidence,
                recommendation="Train longer: raise num_train_epochs or max_steps.",
            )
        )
    elif overall_drop >= UNDERFIT_DROP and tail_drop > -STILL_IMPROVING_DROP:
        findings.append(
            Finding(
                kind="converged",
                severity="info",
                message=(
                    f"Loss fell {overall_drop:.0%} and then flattened over the last "
                    f"{TAIL_FRACTION:.0%} of steps: training converged."
                ),
                evidence=evidence,
                recommendation=(
                    "Keep the schedule; more steps would not help. If the task score is still "
                    "short, improve or enlarge the data."
                ),
            )
        )
    if overall_drop < UNDERFIT_DROP:
        findings.append(
            Finding(
                kind="underfitting",
                severity="warning",
                message=(
                    f"Loss fell only {overall_drop:.0%} over the whole run: the model barely "
                    "learned the data."
                ),
                evidence=evidence,
                recommendation=(
                    "Raise the learning rate (e.g. 2x), the LoRA rank (lora.r), or the number "
                    "of epochs; check that the loss is computed on the completions you care about."
                ),
            )
        )
    return findings


def diagnose(rows: list[dict[str, Any]]) -> list[Finding]:
    """Findings for a loss history: non-finite loss always; trends only with enough finite steps."""
    findings = _non_finite(rows)
    finite = [r for r in rows if _is_number(r.get("train_loss")) and math.isfinite(r["train_loss"])]
    if len(finite) < MIN_ROWS:
        return findings + [
            Finding(
                kind="too_short",
                severity="info",
                message=(
                    f"Only {len(finite)} logged step(s) with a finite loss: too few to judge "
                    "the curve."
                ),
                evidence={"rows": len(rows), "finite_rows": len(finite)},
                recommendation=(
                    f"Log at least {MIN_ROWS} steps (lower logging_steps) to get a diagnosis."
                ),
            )
        ]
    steps = [r["step"] for r in finite]
    losses = [float(r["train_loss"]) for r in finite]
    window = min(SMOOTH_MAX_WINDOW, max(SMOOTH_MIN_WINDOW, int(len(losses) * SMOOTH_FRACTION))) | 1
    smooth = moving_median(losses, window)
    return (
        findings
        + _instability(steps, losses)
        + _overfitting(rows, steps, smooth)
        + _trend(finite, steps, smooth)
    )
