"""report_to: wandb (offline run files) and trackio (local store), read back and compared.

W&B 0.31 has no Python reader for its `.wandb` transaction log (it moved into wandb-core), so
`wandb_records` undoes the log's LevelDB-style framing and parses each record with W&B's own
protobuf `Record`. Trackio is read through its own storage reader, `SQLiteStorage.get_logs`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from goaltune.run_folder import RunFolder
from goaltune.trackers import log_run_results
from goaltune.trackers.base import metric_name
from tests.conftest import copy_fixture_run
from tests.test_trackers import assert_same_series, history, train_with

pytestmark = pytest.mark.usefixtures("one_torch_thread")

needs_wandb = pytest.mark.skipif(
    importlib.util.find_spec("wandb") is None,
    reason="wandb not installed (pip install 'goaltune[wandb]')",
)
needs_trackio = pytest.mark.skipif(
    importlib.util.find_spec("trackio") is None,
    reason="trackio not installed (pip install 'goaltune[trackio]')",
)
STEP_TAGS = ("train/loss", "eval/loss", "train/learning_rate", "train/grad_norm")
BLOCK, HEADER = 32 * 1024, 7  # LevelDB log blocks; W&B's file header is 7 bytes too
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def wandb_records(path: Path) -> Iterator[Any]:
    """The protobuf records of one `.wandb` file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    position, pending = HEADER, b""
    while position + HEADER <= len(data):
        left = BLOCK - position % BLOCK
        _, length, kind = struct.unpack("<IHB", data[position : position + HEADER])
        if left < HEADER or (kind == 0 and length == 0):  # block padding
            position += left
            continue
        chunk = data[position + HEADER : position + HEADER + length]
        position += HEADER + length
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def wandb_run(run_dir: Path) -> dict[str, Any]:
    """History {key: {step: value}}, summary, config and artifact names of the run's files."""
    found: dict[str, Any] = {"history": {}, "summary": {}, "config": {}, "artifacts": []}
    for path in sorted(RunFolder(run_dir).wandb_dir.glob("offline-run-*/*.wandb")):
        for record in wandb_records(path):
            kind = record.WhichOneof("record_type")
            if kind == "history":
                row = {
                    i.key or "/".join(i.nested_key): json.loads(i.value_json)
                    for i in record.history.item
                }
                for key, value in row.items():
                    found["history"].setdefault(key, {})[row["_step"]] = value
            elif kind == "summary":
                for item in record.summary.update:
                    key = item.key or "/".join(item.nested_key)
                    found["summary"][key] = json.loads(item.value_json)
            elif kind == "config":
                for item in record.config.update:
                    found["config"][item.key] = json.loads(item.value_json)
            elif kind == "artifact":
                found["artifacts"].append((record.artifact.name, record.artifact.type))
            elif kind == "run":
                found["run_id"] = record.run.run_id
    return found


@pytest.fixture(autouse=True)
def offline_wandb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline is the tracker's default: nothing in the environment may say otherwise."""
    for name in ("WANDB_MODE", "WANDB_PROJECT", "WANDB_DIR", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@needs_wandb
def test_wandb_history_equals_the_loss_history(tmp_path: Path, tiny_model_and_tokenizer) -> None:
    run_dir = train_with(tmp_path, tiny_model_and_tokenizer[1], ["wandb"])
    run, expected = wandb_run(run_dir), history(run_dir)
    for tag in STEP_TAGS:
        assert_same_series(run["history"][tag], expected[tag])
    assert sorted(run["history"]["train/tokens_per_second"]) == list(range(1, 7))


@needs_wandb
def test_wandb_receives_the_results_of_a_finished_run(tmp_path: Path) -> None:
    run_dir = copy_fixture_run(tmp_path / "run")
    folder = RunFolder(run_dir)
    folder.report_html_path.write_text("<html>report</html>")
    log_run_results(run_dir, ["wandb"])
    run = wandb_run(run_dir)
    verdict, after = folder.read_verdict(), folder.read_eval("after")
    assert run["summary"]["verdict"] == verdict.verdict
    assert verdict.reasons[0] in run["summary"]["verdict/reasons"]
    assert after.task is not None
    for metric, summary in after.task.metrics.items():
        (value,) = run["history"][f"after/task/{metric}"].values()
        assert value == pytest.approx(summary.score)
    for delta in verdict.deltas:
        (value,) = run["history"][f"delta/{metric_name(delta.name)}"].values()
        assert value == pytest.approx(delta.delta_points)
    hyperparameters = folder.read_training_metrics().hyperparameters
    assert run["config"]["learning_rate"] == hyperparameters["learning_rate"]
    reports = {name.split("-", 1)[1] for name, kind in run["artifacts"] if kind == "report"}
    assert reports == {"report.html", "verdict.json"}  # the fixture run has no adapter


@pytest.fixture
def trackio_project(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A fresh Trackio project; the store under a temporary TRACKIO_DIR when trackio is new."""
    if "trackio" not in sys.modules:  # trackio reads TRACKIO_DIR once, on import
        os.environ["TRACKIO_DIR"] = str(tmp_path_factory.mktemp("trackio"))
    project = f"goaltune-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TRACKIO_PROJECT", project)
    monkeypatch.delenv("TRACKIO_SPACE_ID", raising=False)
    monkeypatch.delenv("TRACKIO_SERVER_URL", raising=False)
    return project


def trackio_logs(project: str, run_dir: Path) -> dict[str, dict[int, Any]]:
    from trackio.sqlite_storage import SQLiteStorage

    series: dict[str, dict[int, Any]] = {}
    for row in SQLiteStorage.get_logs(project, run_dir.name):
        for key, value in row.items():
            if key not in ("step", "timestamp"):
                series.setdefault(key, {})[row["step"]] = value
    return series


@needs_trackio
def test_trackio_metrics_equal_the_loss_history(
    tmp_path: Path, tiny_model_and_tokenizer, trackio_project: str
) -> None:
    run_dir = train_with(tmp_path, tiny_model_and_tokenizer[1], ["trackio"])
    logged, expected = trackio_logs(trackio_project, run_dir), history(run_dir)
    for tag in STEP_TAGS:
        assert_same_series(logged[tag], expected[tag])


@needs_trackio
def test_trackio_receives_the_results_of_a_finished_run(
    tmp_path: Path, trackio_project: str
) -> None:
    run_dir = copy_fixture_run(tmp_path / "run")
    log_run_results(run_dir, ["trackio"])
    logged = trackio_logs(trackio_project, run_dir)
    verdict = RunFolder(run_dir).read_verdict()
    (value,) = logged["verdict"].values()
    assert value == verdict.verdict
    for delta in verdict.deltas:
        (value,) = logged[f"delta/{metric_name(delta.name)}"].values()
        assert value == pytest.approx(delta.delta_points)
