"""`report_to: tensorboard`: event files in the run folder's tensorboard/ (torch's SummaryWriter).

View them with `tensorboard --logdir runs/`. TensorBoard has no artifacts: the verdict and
the hyperparameters go into its text panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from goaltune.run_folder import RunFolder, VerdictRecord
from goaltune.trackers.base import final_metrics, step_metrics, verdict_markdown


class TensorBoardTracker:
    """Writes scalars per step and the results at the end as TensorBoard events."""

    name = "tensorboard"

    def __init__(self, folder: RunFolder, first_step: int = 1) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # on resume, purge_step hides the events an interrupted attempt wrote after its checkpoint
        self._writer = SummaryWriter(
            str(folder.tensorboard_dir),
            purge_step=first_step if first_step > 1 else None,
            flush_secs=10,
        )

    def log_step(self, row: Mapping[str, Any]) -> None:
        for tag, value in step_metrics(row).items():
            self._writer.add_scalar(tag, value, int(row["step"]))

    def log_final(
        self,
        before: Mapping[str, float],
        after: Mapping[str, float],
        verdict: VerdictRecord | None,
        hyperparameters: Mapping[str, Any],
        artifacts: Mapping[str, Path],
        step: int,
    ) -> None:
        for tag, value in final_metrics(before, after, verdict).items():
            self._writer.add_scalar(tag, value, step)
        if verdict is not None:
            self._writer.add_text("verdict", verdict_markdown(verdict), step)
        if hyperparameters:
            table = ["| hyperparameter | value |", "| --- | --- |"]
            table += [f"| {key} | {value} |" for key, value in hyperparameters.items()]
            self._writer.add_text("hyperparameters", "\n".join(table), step)

    def close(self) -> None:
        self._writer.close()
