"""`report_to: wandb`: one Weights & Biases run per goaltune run, offline by default.

The run's files go to the run folder's wandb/ (`wandb sync RUN/wandb/offline-run-*` uploads them
later); `WANDB_MODE=online` logs live instead and `WANDB_PROJECT` picks the project (default
`goaltune`). The W&B run id is derived from the run folder, so training, a resumed attempt and
the final results are one W&B run (offline, each attempt is its own `offline-run-*` folder of
that id, which `wandb sync` joins).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from goaltune.run_folder import RunFolder, VerdictRecord
from goaltune.trackers.base import final_metrics, metric_name, step_metrics, verdict_markdown


def run_id(folder: RunFolder) -> str:
    """A W&B run id stable for one run folder (W&B ids are short and URL-safe)."""
    return hashlib.sha256(str(folder.path.resolve()).encode()).hexdigest()[:16]


class WandbTracker:
    """Logs steps as history rows, and the results as history, summary, a table and artifacts."""

    name = "wandb"

    def __init__(self, folder: RunFolder, first_step: int = 1) -> None:
        import wandb

        self._id = run_id(folder)
        self._run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "goaltune"),
            name=folder.path.name,
            id=self._id,
            resume="allow",
            dir=str(folder.path),  # W&B writes into its wandb/ below it: folder.wandb_dir
            mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
            reinit="create_new",  # the final results open a second W&B run object in-process
            settings=wandb.Settings(silent=True, console="off"),
        )

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
        import wandb

        values: dict[str, Any] = final_metrics(before, after, verdict)
        if verdict is not None:
            columns: list[str | int] = [
                "metric",
                "role",
                "before",
                "after",
                "change_points",
                "ci_low",
                "ci_high",
            ]
            rows = [
                [
                    d.name,
                    d.role,
                    d.before,
                    d.after,
                    d.delta_points,
                    d.ci_low_points,
                    d.ci_high_points,
                ]
                for d in verdict.deltas
            ]
            values["verdict/deltas"] = wandb.Table(columns=columns, data=rows)
            self._run.summary["verdict"] = verdict.verdict
            self._run.summary["verdict/caution"] = verdict.caution
            self._run.summary["verdict/reasons"] = verdict_markdown(verdict)
        self._run.log(values, step=step)
        self._run.config.update(dict(hyperparameters), allow_val_change=True)
        for name, path in artifacts.items():
            artifact = wandb.Artifact(
                f"{self._id}-{metric_name(name).replace('/', '-')}",
                type="model" if path.is_dir() else "report",
            )
            if path.is_dir():
                artifact.add_dir(str(path))
            elif path.is_file():
                artifact.add_file(str(path))
            self._run.log_artifact(artifact)

    def close(self) -> None:
        import wandb

        self._run.finish()
        # finish() can return before W&B's service has written the run's last records; teardown
        # waits for the service to flush and exit (the next run starts a new one)
        wandb.teardown()
