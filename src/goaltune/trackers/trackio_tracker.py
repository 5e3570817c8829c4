"""`report_to: trackio`: one Trackio run per goaltune run, in Trackio's local store.

Trackio keeps its projects in SQLite under `TRACKIO_DIR` (default `~/.cache/huggingface/trackio`;
`trackio show` opens its dashboard). The project is `TRACKIO_PROJECT` (default `goaltune`) and
the run is named after the run folder, so training, a resumed attempt and the final results
land in the same Trackio run. Nothing leaves the machine unless `TRACKIO_SPACE_ID` is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from goaltune.run_folder import RunFolder, VerdictRecord
from goaltune.trackers.base import final_metrics, metric_name, step_metrics


def project() -> str:
    return os.environ.get("TRACKIO_PROJECT", "goaltune")


class TrackioTracker:
    """Logs steps and the results as Trackio metrics; the adapter and report as artifacts."""

    name = "trackio"

    def __init__(self, folder: RunFolder, first_step: int = 1) -> None:
        import trackio

        self._run = trackio.init(
            project=project(), name=folder.path.name, resume="allow", embed=False
        )
        self._folder = folder

    def log_step(self, row: Mapping[str, Any]) -> None:
        self._run.log(step_metrics(row), step=int(row["step"]))

    def log_final(
        self,
        before: Mapping[str, float],
        after: Mapping[str, float],
        verdict: VerdictRecord | None,
        hyperparameters: Mapping[str, Any],
        artifacts: Mapping[str, Path],
        step: int,
    ) -> None:
        values: dict[str, Any] = final_metrics(before, after, verdict)
        if verdict is not None:
            values["verdict"] = verdict.verdict
            values["verdict/reasons"] = " ".join(verdict.reasons)
        values.update({f"hyperparameters/{k}": v for k, v in hyperparameters.items()})
        self._run.log(values, step=step)
        for name, path in artifacts.items():
            if path.exists():
                kind = "model" if path.is_dir() else "report"
                label = f"{self._folder.path.name}-{metric_name(name).replace('/', '-')}"
                self._run.log_artifact(str(path), name=label, type=kind)

    def close(self) -> None:
        self._run.finish()
