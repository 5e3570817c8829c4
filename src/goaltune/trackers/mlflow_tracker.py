"""`report_to: mlflow`: one MLflow run per goaltune run, through `MlflowClient`.

By default the store is local and inside the run folder (mlflow/mlflow.db, artifacts in
mlflow/artifacts; `mlflow ui --backend-store-uri sqlite:///RUN/mlflow/mlflow.db` shows it);
`MLFLOW_TRACKING_URI` sends the run to that server instead and `MLFLOW_EXPERIMENT_NAME` picks
the experiment (default `goaltune`). The run is found again by its `goaltune.run_folder` tag, so
training and the final results (and a resumed run) land in the same MLflow run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from goaltune.run_folder import RunFolder, VerdictRecord
from goaltune.trackers.base import final_metrics, step_metrics, verdict_markdown

RUN_FOLDER_TAG = "goaltune.run_folder"
_BATCH = 100  # MLflow's log_batch takes at most 100 params (and 1000 metrics) per call


def _now_ms() -> int:
    return int(time.time() * 1000)


class MlflowTracker:
    """Logs steps as metrics, and the results as metrics, params, tags, text and artifacts."""

    name = "mlflow"

    def __init__(self, folder: RunFolder, first_step: int = 1) -> None:
        from mlflow.tracking import MlflowClient

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        local = not uri
        if local:
            folder.mlflow_dir.mkdir(parents=True, exist_ok=True)
            uri = f"sqlite:///{(folder.mlflow_dir / 'mlflow.db').resolve()}"
            # creating the local database logs its schema migrations at INFO
            logging.getLogger("mlflow").setLevel(logging.WARNING)
            logging.getLogger("alembic").setLevel(logging.WARNING)
        self._client = MlflowClient(tracking_uri=uri)
        experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME", "goaltune")
        found = self._client.get_experiment_by_name(experiment)
        experiment_id = (
            found.experiment_id
            if found is not None
            else self._client.create_experiment(
                experiment,
                artifact_location=(folder.mlflow_dir / "artifacts").resolve().as_uri()
                if local
                else None,
            )
        )
        tag = str(folder.path.resolve())
        runs = self._client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{RUN_FOLDER_TAG}` = '{tag}'",
            max_results=1,
        )
        self.run_id: str = (
            runs[0].info.run_id
            if runs
            else self._client.create_run(
                experiment_id, run_name=folder.path.name, tags={RUN_FOLDER_TAG: tag}
            ).info.run_id
        )
        if runs:
            self._client.update_run(self.run_id, status="RUNNING")

    def log_step(self, row: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric

        stamp, step = _now_ms(), int(row["step"])
        metrics = [Metric(key, value, stamp, step) for key, value in step_metrics(row).items()]
        self._client.log_batch(self.run_id, metrics=metrics)

    def log_final(
        self,
        before: Mapping[str, float],
        after: Mapping[str, float],
        verdict: VerdictRecord | None,
        hyperparameters: Mapping[str, Any],
        artifacts: Mapping[str, Path],
        step: int,
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        stamp = _now_ms()
        values = final_metrics(before, after, verdict)
        tags = {}
        if verdict is not None:
            tags = {
                "goaltune.verdict": verdict.verdict,
                "goaltune.caution": str(verdict.caution).lower(),
                "goaltune.headline": verdict.headline,
                "mlflow.note.content": verdict_markdown(verdict),  # the run's description
            }
            self._client.log_text(self.run_id, verdict_markdown(verdict), "verdict.md")
        metrics = [Metric(key, value, stamp, step) for key, value in values.items()]
        params = [Param(key, str(value)) for key, value in hyperparameters.items()]
        for start in range(0, max(len(metrics), len(params)), _BATCH):
            self._client.log_batch(
                self.run_id,
                metrics=metrics[start : start + _BATCH],
                params=params[start : start + _BATCH],
            )
        self._client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        for name, path in artifacts.items():
            if path.is_dir():
                self._client.log_artifacts(self.run_id, str(path), artifact_path=name)
            elif path.is_file():
                self._client.log_artifact(self.run_id, str(path))

    def close(self) -> None:
        self._client.set_terminated(self.run_id)
