"""Precision and recall of every finding kind on the labelled loss curves of tests/data/curves.

The corpus (scripts/make_loss_curves.py writes it) holds real runs of the tiny test model (a
normal learning rate, one 20x too high, a many-epoch overfit) and synthetic curves with known
events; labels.json gives the finding kinds each curve should get.
"""

from __future__ import annotations

import json
from pathlib import Path

from goaltune.diagnose import diagnose
from goaltune.run_folder import read_loss_history

CURVES = Path(__file__).parent / "data" / "curves"
LABELS: dict[str, list[str]] = json.loads((CURVES / "labels.json").read_text())
MIN_PRECISION, MIN_RECALL = 0.9, 0.8


def found(name: str) -> set[str]:
    """The finding kinds the diagnosis gives the curve `name`."""
    rows = read_loss_history(CURVES / f"{name}.csv")
    return {f.kind for f in diagnose([dict(row) for row in rows])}


def test_every_curve_is_labelled() -> None:
    assert sorted(p.stem for p in CURVES.glob("*.csv")) == sorted(LABELS)


def test_precision_and_recall_of_each_finding_kind() -> None:
    results = {name: found(name) for name in LABELS}
    kinds = sorted(
        {k for labels in LABELS.values() for k in labels} | set().union(*results.values())
    )
    print(f"\n{'kind':<16} {'tp':>3} {'fp':>3} {'fn':>3} {'precision':>9} {'recall':>6}")
    failures = []
    for kind in kinds:
        tp = sum(kind in results[n] and kind in LABELS[n] for n in LABELS)
        fp = sum(kind in results[n] and kind not in LABELS[n] for n in LABELS)
        fn = sum(kind not in results[n] and kind in LABELS[n] for n in LABELS)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"{kind:<16} {tp:>3} {fp:>3} {fn:>3} {precision:>9.2f} {recall:>6.2f}")
        if precision < MIN_PRECISION or recall < MIN_RECALL:
            failures.append(kind)
    wrong = {n: sorted(results[n] ^ set(LABELS[n])) for n in LABELS if results[n] != set(LABELS[n])}
    assert not failures, f"below the floors: {failures}; mismatched curves: {wrong}"


def test_demo_like_batch_noise_is_not_instability() -> None:
    for name in [n for n in LABELS if n.startswith("syn-demo-like-")]:
        assert "instability" not in found(name), name


def test_too_high_learning_rate_is_instability() -> None:
    for name in ("real-finetune-lr-20x-seed0", "real-finetune-lr-20x-seed1"):
        assert "instability" in found(name), name
    assert "instability" not in found("real-finetune-normal-lr-seed0")
