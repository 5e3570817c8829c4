"""report_to: what TensorBoard and MLflow receive, read back through their own readers."""

from __future__ import annotations

import csv
import importlib.util
import logging
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from goaltune.config import TrainConfig
from goaltune.data.encoding import encode_dataset
from goaltune.errors import ConfigError
from goaltune.run_folder import RunFolder
from goaltune.trackers import log_run_results, require_trackers
from goaltune.trackers.base import STEP_METRICS, metric_name
from goaltune.train import train_adapter
from tests.conftest import build_tiny_model, copy_fixture_run, lora, tiny_examples, write_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

needs_tensorboard = pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None,
    reason="tensorboard not installed (pip install 'goaltune[tensorboard]')",
)
needs_mlflow = pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None,
    reason="mlflow not installed (pip install 'goaltune[mlflow]')",
)


@pytest.fixture(autouse=True)
def local_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local store in the run folder, whatever the machine's environment says."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)


def train_with(tmp_path: Path, tokenizer: Any, report_to: list[str]) -> Path:
    """Train the tiny model 6 steps with `report_to`; returns the run folder."""
    encoded, _ = encode_dataset(tiny_examples(), tokenizer, max_seq_length=64)
    config = TrainConfig(
        max_steps=6,
        per_device_train_batch_size=4,
        learning_rate=5e-3,
        eval_steps=3,
        bf16=False,
        report_to=report_to,  # type: ignore[arg-type]
    )
    model = lora(build_tiny_model(tokenizer))
    train_adapter(model, tokenizer, encoded[:20], encoded[20:], config, tmp_path, False)
    return tmp_path


def history(run_dir: Path) -> dict[str, dict[int, float]]:
    """loss_history.csv as {tracker metric name: {step: value}} (empty cells left out)."""
    series: dict[str, dict[int, float]] = {tag: {} for tag in STEP_METRICS.values()}
    for row in csv.DictReader((run_dir / "loss_history.csv").open()):
        for column, tag in STEP_METRICS.items():
            if row.get(column):
                series[tag][int(row["step"])] = float(row[column])
    return series


def tensorboard_scalars(run_dir: Path) -> dict[str, dict[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(RunFolder(run_dir).tensorboard_dir))
    events.Reload()
    return {
        tag: {event.step: event.value for event in events.Scalars(tag)}
        for tag in events.Tags()["scalars"]
    }


def mlflow_run(run_dir: Path) -> tuple[Any, Any]:
    """(client, run) of the one MLflow run in the run folder's local store."""
    from mlflow.tracking import MlflowClient

    store = RunFolder(run_dir).mlflow_dir / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{store.resolve()}")
    (run,) = client.search_runs([client.get_experiment_by_name("goaltune").experiment_id])
    return client, run


def mlflow_history(client: Any, run_id: str, key: str) -> dict[int, float]:
    return {metric.step: metric.value for metric in client.get_metric_history(run_id, key)}


def assert_same_series(got: dict[int, float], expected: dict[int, float]) -> None:
    assert sorted(got) == sorted(expected)
    # equal to the CSV's precision (6 decimals, or 6 digits below 1e-3); TensorBoard has float32
    for step, value in expected.items():
        assert math.isclose(got[step], value, rel_tol=1e-5, abs_tol=1e-6), (step, got[step], value)


@needs_tensorboard
def test_tensorboard_events_equal_the_loss_history(
    tmp_path: Path, tiny_model_and_tokenizer
) -> None:
    run_dir = train_with(tmp_path, tiny_model_and_tokenizer[1], ["tensorboard"])
    scalars, expected = tensorboard_scalars(run_dir), history(run_dir)
    for tag in ("train/loss", "eval/loss", "train/learning_rate", "train/grad_norm"):
        assert_same_series(scalars[tag], expected[tag])
    assert sorted(expected["eval/loss"]) == [3, 6]
    assert sorted(scalars["train/tokens_per_second"]) == list(range(1, 7))
    assert all(value > 0 for value in scalars["train/tokens_per_second"].values())


@needs_mlflow
def test_mlflow_metrics_equal_the_loss_history(tmp_path: Path, tiny_model_and_tokenizer) -> None:
    run_dir = train_with(tmp_path, tiny_model_and_tokenizer[1], ["mlflow"])
    client, run = mlflow_run(run_dir)
    expected = history(run_dir)
    for key in ("train/loss", "eval/loss", "train/learning_rate", "train/grad_norm"):
        assert_same_series(mlflow_history(client, run.info.run_id, key), expected[key])
    assert run.info.status == "FINISHED"
    assert run.data.tags["goaltune.run_folder"] == str(run_dir.resolve())


@needs_mlflow
def test_mlflow_receives_the_results_of_a_finished_run(tmp_path: Path) -> None:
    run_dir = copy_fixture_run(tmp_path / "run")
    folder = RunFolder(run_dir)
    folder.report_html_path.write_text("<html>report</html>")
    log_run_results(run_dir, ["mlflow"])
    client, run = mlflow_run(run_dir)
    verdict, after = folder.read_verdict(), folder.read_eval("after")
    assert run.data.tags["goaltune.verdict"] == verdict.verdict
    assert verdict.reasons[0] in run.data.tags["mlflow.note.content"]
    assert after.task is not None
    for metric, summary in after.task.metrics.items():
        assert run.data.metrics[f"after/task/{metric}"] == pytest.approx(summary.score)
    for delta in verdict.deltas:  # `builtin:ifeval-mini` becomes `builtin_ifeval-mini`
        key = f"delta/{metric_name(delta.name)}"
        assert run.data.metrics[key] == pytest.approx(delta.delta_points)
        assert run.data.metrics[f"{key}/ci_low"] == pytest.approx(delta.ci_low_points)
    hyperparameters = folder.read_training_metrics().hyperparameters
    assert run.data.params["learning_rate"] == str(hyperparameters["learning_rate"])
    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "verdict.json", "verdict.md"} <= artifacts


@needs_tensorboard
def test_tensorboard_receives_the_results_of_a_finished_run(tmp_path: Path) -> None:
    run_dir = copy_fixture_run(tmp_path / "run")
    log_run_results(run_dir, ["tensorboard"])
    scalars = tensorboard_scalars(run_dir)
    for delta in RunFolder(run_dir).read_verdict().deltas:
        (value,) = scalars[f"delta/{metric_name(delta.name)}"].values()
        assert value == pytest.approx(delta.delta_points, rel=1e-6)


@needs_tensorboard
def test_a_tracker_that_fails_mid_run_warns_once_and_the_run_finishes(
    tmp_path: Path,
    tiny_model_and_tokenizer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from torch.utils.tensorboard import SummaryWriter

    calls = []

    def broken(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(args)
        if len(calls) > 3:
            raise OSError("disk quota exceeded")

    monkeypatch.setattr(SummaryWriter, "add_scalar", broken)
    with caplog.at_level(logging.WARNING, logger="goaltune.trackers"):
        run_dir = train_with(tmp_path, tiny_model_and_tokenizer[1], ["tensorboard"])
        log_run_results(run_dir, ["tensorboard"])  # a dropped tracker stays dropped
    warnings = [r.getMessage() for r in caplog.records if r.name == "goaltune.trackers"]
    assert len(warnings) == 1 and "tensorboard" in warnings[0] and "disk quota" in warnings[0]
    assert len(calls) == 4  # nothing after the failure
    assert len(list(csv.DictReader((run_dir / "loss_history.csv").open()))) == 6


def test_a_missing_tracker_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"pip install 'goaltune\[mlflow\]'"):
        require_trackers(["tensorboard", "mlflow"])


def test_report_to_takes_trl_spellings() -> None:
    assert TrainConfig(report_to="none").report_to == []  # type: ignore[arg-type]
    assert TrainConfig(report_to="mlflow").report_to == ["mlflow"]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tensorboard"):
        TrainConfig(report_to=["comet"])  # type: ignore[list-item]


@needs_tensorboard
@needs_mlflow
@pytest.mark.integration
def test_a_run_reports_to_both_trackers(tmp_path: Path, tiny_model_dir: Path) -> None:
    from goaltune.cli import app

    config = write_config(tmp_path, tiny_model_dir)
    result = CliRunner().invoke(
        app, ["run", str(config), "--quiet", "--set", "train.report_to=[tensorboard, mlflow]"]
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    expected = history(run_dir)
    scalars = tensorboard_scalars(run_dir)
    client, run = mlflow_run(run_dir)
    for key in ("train/loss", "eval/loss"):
        assert_same_series(scalars[key], expected[key])
        assert_same_series(mlflow_history(client, run.info.run_id, key), expected[key])
    verdict = RunFolder(run_dir).read_verdict()
    assert run.data.tags["goaltune.verdict"] == verdict.verdict
    assert "after/task/exact_match" in run.data.metrics and "after/task/exact_match" in scalars
    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "adapter"} <= artifacts
