"""Loss-curve diagnosis: read `loss_history.csv` and turn its shape into findings with remedies."""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import asdict, dataclass
from statistics import median
from typing import Any, Literal, TypeGuard

from goaltune.run_folder import GoalRow

Severity = Literal["info", "warning", "error"]

MIN_ROWS = 5  # fewer finite train losses than this: no trend analysis
SMOOTH_FRACTION = 0.1  # moving-median window as a fraction of the history ...
SMOOTH_MIN_WINDOW, SMOOTH_MAX_WINDOW = 3, 51  # ... kept within these bounds (odd sizes)
TAIL_FRACTION = 0.25  # the "last part" of training that trend decisions look at
MIN_TAIL_POINTS = 3
STILL_IMPROVING_DROP = 0.05  # relative fall over the tail that means "still learning" ...
TREND_Z = 3.0  # ... when it is also this many standard errors of the tail's noise
UNDERFIT_DROP = 0.10  # relative fall over the whole run below which the model barely learned
# Losses are judged in log space: batch noise is roughly proportional to the loss level, so a
# wiggle from 0.01 to 0.03 at the end of a run weighs like one from 1.0 to 3.0 at its start and
# the noise estimate of one part of the curve fits the others.
LOSS_FLOOR = 1e-8  # losses are clamped here before taking logs (a loss can be exactly 0)
MAD_TO_SIGMA = 1.4826  # MAD x this = standard deviation for normal noise
NOISE_WINDOW = 31  # residuals around a step that give its local noise level (noise drifts)
# Batch losses are heavy-tailed (a batch that happens to hold the hard examples), so the noise
# level is a high quantile of the absolute residuals, not their median: a median-based sigma
# made every tenth batch of a real fine-tune look like a 5-sigma spike.
NOISE_QUANTILE = 0.9
Q90_TO_SIGMA = 1.645  # the 90th percentile of |normal noise| is this many sigmas
NOISE_FLOOR = 0.01  # smallest log-noise assumed: a noiseless synthetic curve is not infinitely sure
SPIKE_K = 3.0  # a spike stands this many local noise levels above the smoothed curve ...
SPIKE_RATIO = 1.3  # ... is at least this multiple of it ...
SPIKE_RANGE_FRACTION = 0.2  # ... and exceeds it by this fraction of the range the curve covers,
# so that batch noise at a tiny late loss (0.03-0.08 around 0.01 after falling from 0.85) is not
# a spike however large it is in log terms.
RISE_RATIO = 1.5  # the smoothed loss rising to this multiple of its earlier minimum ...
RISE_RANGE_FRACTION = 0.2  # ... by this fraction of the curve's range: divergence, not noise
MAX_REPORTED_STEPS = 20  # evidence lists are cut to this many steps
MIN_VAL_POINTS = 3  # validation points needed to judge overfitting
OVERFIT_RISE = 0.05  # relative rise of validation loss above its best that counts as overfitting
OVERFIT_K = 3.0  # ... when it is also this many sigmas of the validation curve's own noise
VAL_NOISE_FLOOR = 0.005  # smallest log-noise assumed for validation loss (a fixed set of items)
EPS = 1e-12
GUARD_FALL_POINTS = 2.0  # a guard's fall on its watched subset after the task's peak that counts


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


@dataclass
class Curve:
    """A finite training-loss history in log space, its smoothed trend and its own batch noise."""

    steps: list[int]
    losses: list[float]
    logs: list[float]  # log of each loss (clamped at LOSS_FLOOR)
    trend: list[float]  # centred moving median of `logs`
    noise: list[float]  # local NOISE_QUANTILE of the residuals |logs - trend|, per step
    scale: float  # the range the smoothed loss covers (max - min), in loss units
    half_window: int  # steps on each side that the smoothing window reaches

    @classmethod
    def of(cls, steps: list[int], losses: list[float]) -> Curve:
        """Smooth `losses` and measure the noise around the smoothed curve."""
        logs = [math.log(max(loss, LOSS_FLOOR)) for loss in losses]
        window = min(SMOOTH_MAX_WINDOW, max(SMOOTH_MIN_WINDOW, int(len(logs) * SMOOTH_FRACTION)))
        window |= 1
        trend = moving_median(logs, window)
        spread = _moving_quantile([abs(y - t) for y, t in zip(logs, trend)], NOISE_WINDOW)
        noise = [max(NOISE_FLOOR, s) for s in spread]
        level = [math.exp(t) for t in trend]
        return cls(steps, losses, logs, trend, noise, max(level) - min(level), window // 2)

    def level(self, i: int) -> float:
        """The smoothed loss at index `i`, in loss units."""
        return math.exp(self.trend[i])


def moving_median(values: list[float], window: int) -> list[float]:
    """Centred moving median (window shrinks at the ends): smooths noise and ignores spikes."""
    half = window // 2
    return [median(values[max(0, i - half) : i + half + 1]) for i in range(len(values))]


def _moving_quantile(values: list[float], window: int) -> list[float]:
    """Centred moving NOISE_QUANTILE (window shrinks at the ends)."""
    half = window // 2
    out = []
    for i in range(len(values)):
        part = sorted(values[max(0, i - half) : i + half + 1])
        out.append(part[min(len(part) - 1, int(NOISE_QUANTILE * len(part)))])
    return out


def spike_steps(curve: Curve) -> list[int]:
    """Steps whose loss stands out from the curve's own noise and is large for its range."""
    found = []
    # Before a full half window of history the median is taken over later steps only, which on
    # a steeply falling start sits well below the first losses: no judgement there.
    for i, loss in enumerate(curve.losses):
        if i < curve.half_window:
            continue
        level = curve.level(i)
        if (
            curve.logs[i] - curve.trend[i] > SPIKE_K * curve.noise[i]
            and loss > SPIKE_RATIO * level
            and loss - level > SPIKE_RANGE_FRACTION * curve.scale
        ):
            found.append(curve.steps[i])
    return found


def rise_step(curve: Curve) -> tuple[int, float, int, float] | None:
    """(step, loss) of the lowest smoothed loss and of the first sustained rise far above it."""
    low = 0
    for i in range(len(curve.trend)):
        if curve.trend[i] < curve.trend[low]:
            low = i
        rise = curve.level(i) - curve.level(low)
        if (
            curve.trend[i] - curve.trend[low] > max(math.log(RISE_RATIO), SPIKE_K * curve.noise[i])
            and rise > RISE_RANGE_FRACTION * curve.scale
        ):
            return curve.steps[low], curve.level(low), curve.steps[i], curve.level(i)
    return None


def _instability(curve: Curve) -> list[Finding]:
    spikes = spike_steps(curve)
    rise = rise_step(curve)
    if not spikes and rise is None:
        return []
    by_step = dict(zip(curve.steps, curve.losses))
    shown = spikes[:MAX_REPORTED_STEPS]
    parts = [f"Training loss spiked at step(s) {', '.join(map(str, shown))}"] if shown else []
    evidence: dict[str, Any] = {
        "steps": shown,
        "train_losses": [_num(by_step[s]) for s in shown],
        "noise_log_q90": _num(median(curve.noise)),
    }
    if rise is not None:
        low_step, low, high_step, high = rise
        parts.append(
            f"the smoothed loss rose from {low:.4g} at step {low_step} to {high:.4g} by step "
            f"{high_step}"
        )
        evidence |= {"rise_from_step": low_step, "rise_to_step": high_step}
        evidence |= {"rise_from_loss": _num(low), "rise_to_loss": _num(high)}
    message = "; ".join(parts)
    return [
        Finding(
            kind="instability",
            severity="warning",
            message=f"{message[0].upper()}{message[1:]}, well beyond the curve's batch noise.",
            evidence=evidence,
            recommendation=(
                "Lower the learning rate or raise warmup_ratio, and inspect the examples trained "
                "at those steps for outliers (very long, empty or mislabeled)."
            ),
        )
    ]


def _value_at_step(steps: list[int], values: list[float], step: int) -> float:
    """The value logged at the last step not after `step` (the first value if none)."""
    return values[max(0, bisect_right(steps, step) - 1)]


def _overfitting(rows: list[dict[str, Any]], curve: Curve) -> list[Finding]:
    val = [
        (r["step"], r["val_loss"])
        for r in rows
        if _is_number(r.get("val_loss")) and math.isfinite(r["val_loss"])
    ]
    if len(val) < MIN_VAL_POINTS:
        return []
    best_step, best = min(val, key=lambda p: p[1])
    last_step, last = val[-1]
    # Judge the rise on the smoothed validation curve against its own point-to-point noise, so
    # that one lucky low point or a wobble of a small validation set is not overfitting.
    logs = [math.log(max(v, LOSS_FLOOR)) for _, v in val]
    smooth = moving_median(logs, 3)
    noise = max(VAL_NOISE_FLOOR, MAD_TO_SIGMA * median(abs(y - s) for y, s in zip(logs, smooth)))
    rise = smooth[-1] - min(smooth)
    level = [curve.level(i) for i in range(len(curve.trend))]
    train_at_best = _value_at_step(curve.steps, level, best_step)
    if (
        best_step == last_step
        or math.expm1(rise) < OVERFIT_RISE
        or rise < OVERFIT_K * noise
        or level[-1] >= train_at_best
    ):
        return []
    return [
        Finding(
            kind="overfitting",
            severity="warning",
            message=(
                f"Validation loss was lowest at step {best_step} ({best:.4g}) and rose "
                f"{math.expm1(rise):.0%} by step {last_step} while training loss kept falling: "
                "overfitting."
            ),
            evidence={
                "best_step": best_step,
                "best_val_loss": _num(best),
                "final_step": last_step,
                "final_val_loss": _num(last),
                "train_loss_at_best": _num(train_at_best),
                "final_train_loss": _num(level[-1]),
                "val_noise_log_sigma": _num(noise),
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


def _tail_drop_z(curve: Curve, tail_start: int) -> float:
    """How many standard errors of the tail's own noise the loss fell over the tail.

    The medians of the first and last thirds of the tail (in log space) are compared; the
    standard error of a median of n normal values is about 1.25 sigma / sqrt(n).
    """
    logs = curve.logs[tail_start:]
    third = max(1, len(logs) // 3)
    drop = median(logs[:third]) - median(logs[-third:])
    sigma = median(curve.noise[tail_start:]) / Q90_TO_SIGMA
    return drop / (1.2533 * sigma * math.sqrt(2 / third))


def _trend(rows: list[dict[str, Any]], curve: Curve, diverged: bool) -> list[Finding]:
    """still_improving, converged and underfitting from the smoothed training loss."""
    steps = curve.steps
    smooth = [curve.level(i) for i in range(len(curve.trend))]
    tail = max(MIN_TAIL_POINTS, round(len(smooth) * TAIL_FRACTION))
    tail_start = len(smooth) - tail
    tail_drop = _relative_drop(smooth[tail_start], smooth[-1])
    tail_z = _tail_drop_z(curve, tail_start)
    overall_drop = _relative_drop(smooth[0], smooth[-1])
    evidence = {
        "first_step": steps[0],
        "tail_start_step": steps[tail_start],
        "last_step": steps[-1],
        "smoothed_first": _num(smooth[0]),
        "smoothed_tail_start": _num(smooth[tail_start]),
        "smoothed_last": _num(smooth[-1]),
        "tail_drop": _num(tail_drop),
        "tail_drop_z": _num(tail_z),
        "overall_drop": _num(overall_drop),
    }
    findings = []
    # A fall (or rise) over the tail counts only when it stands out from the tail's noise.
    if tail_drop >= STILL_IMPROVING_DROP and tail_z >= TREND_Z:
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
    elif overall_drop >= UNDERFIT_DROP and (tail_drop > -STILL_IMPROVING_DROP or tail_z > -TREND_Z):
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
    if overall_drop < UNDERFIT_DROP and not diverged:  # a diverged run needs a lower rate
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
    curve = Curve.of([r["step"] for r in finite], [float(r["train_loss"]) for r in finite])
    instability = _instability(curve)
    diverged = any("rise_to_step" in f.evidence for f in instability)
    return findings + instability + _overfitting(rows, curve) + _trend(finite, curve, diverged)


def goal_peak(rows: list[GoalRow]) -> list[Finding]:
    """goal_history.csv: the task metric (mean of the task columns) peaked before the end and a
    guard fell after the peak, so fewer epochs would have done."""
    scored = [(r, [v for v in r.task.values() if v is not None]) for r in rows]
    means = [(r, sum(v) / len(v)) for r, v in scored if v]
    if len(means) < 3:
        return []
    peak, top = max(means, key=lambda pair: pair[1])  # the earliest of equal maxima
    last, end = means[-1]
    falls = {
        name: (before - after) * 100
        for name, before in peak.guards.items()
        if before is not None and (after := last.guards.get(name)) is not None
    }
    guard, fall = max(falls.items(), key=lambda kv: kv[1], default=("", 0.0))
    if peak is last or end >= top or fall < GUARD_FALL_POINTS:
        return []
    epochs = math.ceil(peak.epoch) if peak.epoch >= 1 else round(peak.epoch, 1)
    enough = f"{epochs:g} epoch{'' if epochs == 1 else 's'}"
    return [
        Finding(
            kind="goal_peaked_early",
            severity="warning",
            message=(
                f"The task metric peaked at step {peak.step} (epoch {peak.epoch:g}) and {guard} "
                f"fell {fall:.1f} points after it: {enough} {'is' if epochs == 1 else 'are'} "
                "enough."
            ),
            evidence={
                "peak_step": peak.step,
                "peak_task_score": _num(top),
                "final_task_score": _num(end),
                "guard": guard,
                "guard_fall_points": _num(fall),
            },
            recommendation=(
                f"Train for {enough} (train.num_train_epochs), or let train.keep: best_goal "
                "keep the best step."
            ),
        )
    ]
