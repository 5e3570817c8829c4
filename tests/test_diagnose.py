"""Loss-curve diagnosis on synthetic histories, the CSV reader, and a never-crash property."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goaltune.diagnose import Finding, diagnose, forgetting_remedies
from goaltune.errors import DataError, RunError
from goaltune.run_folder import read_loss_history

HEADER = "step,epoch,train_loss,val_loss,learning_rate,grad_norm,tokens_seen,elapsed_s\n"


def rows(
    train: list[float], val: dict[int, float] | None = None, epochs: float = 1.0
) -> list[dict]:
    """History rows for the given train losses; `val` maps step -> validation loss."""
    n = len(train)
    return [
        {
            "step": i + 1,
            "epoch": epochs * (i + 1) / n,
            "train_loss": loss,
            "val_loss": (val or {}).get(i + 1),
            "learning_rate": 2e-4,
            "grad_norm": 1.0,
            "tokens_seen": 100 * (i + 1),
            "elapsed_s": 0.5 * (i + 1),
        }
        for i, loss in enumerate(train)
    ]


def noisy(values: list[float], rel: float = 0.02, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [v * (1 + rng.gauss(0, rel)) for v in values]


def converging(n: int = 100) -> list[float]:
    return noisy([2.0 * math.exp(-i / 8) + 0.5 for i in range(n)])


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind for f in findings]


def only(findings: list[Finding], kind: str) -> Finding:
    matching = [f for f in findings if f.kind == kind]
    assert len(matching) == 1, kinds(findings)
    return matching[0]


def test_converged_curve_is_fine_and_noise_is_not_a_spike() -> None:
    findings = diagnose(rows(converging()))
    assert kinds(findings) == ["converged"]
    assert findings[0].severity == "info"
    assert findings[0].evidence["overall_drop"] > 0.5


def test_spike_is_reported_with_its_step() -> None:
    train = converging()
    train[59] = 4.0
    findings = diagnose(rows(train))
    spike = only(findings, "instability")
    assert spike.severity == "warning"
    assert spike.evidence["steps"] == [60]
    assert spike.evidence["train_losses"] == [4.0]
    assert "60" in spike.message
    assert "converged" in kinds(findings)  # the smoothed trend ignores the spike


def test_rising_validation_is_overfitting_with_best_step() -> None:
    train = noisy([2.0 * math.exp(-i / 30) + 0.3 for i in range(100)])
    val_curve = [1.2, 1.0, 0.9, 0.85, 0.83, 0.86, 0.92, 1.0, 1.08, 1.15]
    findings = diagnose(rows(train, val={10 * (k + 1): v for k, v in enumerate(val_curve)}))
    overfit = only(findings, "overfitting")
    assert overfit.evidence["best_step"] == 50
    assert overfit.evidence["best_val_loss"] == 0.83
    assert overfit.evidence["final_step"] == 100
    assert "step 50" in overfit.message
    assert "max_steps=50" in overfit.recommendation


def test_falling_validation_is_not_overfitting() -> None:
    val = {10 * (k + 1): 1.2 - 0.05 * k for k in range(10)}
    assert "overfitting" not in kinds(diagnose(rows(converging(), val=val)))


def test_nan_loss_is_an_error_at_its_step() -> None:
    train = converging()
    train[29] = float("nan")
    finding = only(diagnose(rows(train)), "non_finite")
    assert finding.severity == "error"
    assert finding.evidence == {"step": 30, "train_loss": "nan"}
    assert "learning rate" in finding.recommendation


def test_still_improving_says_one_epoch_was_not_enough() -> None:
    train = noisy([2.0 - i / 100 for i in range(100)])
    finding = only(diagnose(rows(train)), "still_improving")
    assert "one epoch was not enough" in finding.message
    assert "num_train_epochs" in finding.recommendation
    assert finding.evidence["tail_drop"] > 0.1


def test_still_improving_names_the_epochs_trained() -> None:
    train = noisy([2.0 - i / 100 for i in range(100)])
    finding = only(diagnose(rows(train, epochs=3.0)), "still_improving")
    assert "3 epochs was not enough" in finding.message


def test_flat_from_the_start_is_underfitting() -> None:
    findings = diagnose(rows(noisy([2.0] * 100)))
    assert kinds(findings) == ["underfitting"]
    assert "learning rate" in findings[0].recommendation
    assert abs(findings[0].evidence["overall_drop"]) < 0.1


def test_short_history_gives_a_single_too_short_finding() -> None:
    findings = diagnose(rows([2.0, 1.5, 1.2]))
    assert kinds(findings) == ["too_short"]
    assert findings[0].severity == "info"
    assert diagnose([]) and kinds(diagnose([])) == ["too_short"]


def test_findings_serialise_to_plain_json() -> None:
    train = converging()
    train[59] = 4.0
    train[80] = float("inf")
    payload = [f.to_dict() for f in diagnose(rows(train))]
    assert set(payload[0]) == {"kind", "severity", "message", "evidence", "recommendation"}
    json.dumps(payload, allow_nan=False)


def test_forgetting_remedies_cover_the_known_levers() -> None:
    text = " ".join(forgetting_remedies())
    for needle in ("fewer epochs", "8-16", "data.mix", "diverse", "instruction-tuned"):
        assert needle in text


def test_read_loss_history_parses_empty_and_non_finite_cells(tmp_path: Path) -> None:
    path = tmp_path / "loss_history.csv"
    path.write_text(HEADER + "1,0.1,2.5,,0.0002,1.3,120,0.4\n2,0.2,nan,1.9,0.0002,inf,240,0.8\n")
    first, second = read_loss_history(path)
    assert first == {
        "step": 1,
        "epoch": 0.1,
        "train_loss": 2.5,
        "val_loss": None,
        "learning_rate": 0.0002,
        "grad_norm": 1.3,
        "tokens_seen": 120,
        "elapsed_s": 0.4,
    }
    assert math.isnan(second["train_loss"]) and second["grad_norm"] == math.inf
    assert second["val_loss"] == 1.9


def test_read_loss_history_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "loss_history.csv"
    path.write_text(HEADER + "1,0.1,2.5,,0.0002,1.3,120,0.4\n2,0.2,oops,,0.0002,1.0,240,0.8\n")
    with pytest.raises(DataError, match=r"line 3: train_loss: not a number \('oops'\)"):
        read_loss_history(path)


def test_read_loss_history_rejects_missing_columns_and_files(tmp_path: Path) -> None:
    path = tmp_path / "loss_history.csv"
    path.write_text("step,train_loss\n1,2.0\n")
    with pytest.raises(DataError, match="missing columns epoch, val_loss"):
        read_loss_history(path)
    with pytest.raises(RunError, match="not found"):
        read_loss_history(tmp_path / "absent.csv")


any_loss = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(any_loss, any_loss), max_size=60))
def test_diagnose_never_crashes_and_stays_json_safe(losses: list[tuple]) -> None:
    history = [
        {"step": i + 1, "epoch": (i + 1) / 10, "train_loss": train, "val_loss": val}
        for i, (train, val) in enumerate(losses)
    ]
    findings = diagnose(history)
    assert all(f.severity in ("info", "warning", "error") for f in findings)
    json.dumps([f.to_dict() for f in findings], allow_nan=False)
