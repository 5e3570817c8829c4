"""Error types for user mistakes: the CLI prints them on one line and exits with code 2."""

from __future__ import annotations


class GoaltuneError(Exception):
    """A problem the user can fix (bad config, bad data, missing model); no traceback shown."""

    exit_code = 2


class ConfigError(GoaltuneError):
    """The run configuration is invalid; the message names the key path."""


class DataError(GoaltuneError):
    """A data file is malformed; the message names the file, the line or row and the field."""


class ModelError(GoaltuneError):
    """The model cannot be found or loaded."""


class BenchmarkError(GoaltuneError):
    """A benchmark is unknown or its data is missing or malformed."""


class RunError(GoaltuneError):
    """A run folder is missing, incomplete or not writable."""


class ExportParityFailed(GoaltuneError):
    """The exported model scores worse than the adapter model beyond noise (`goaltune export`)."""

    exit_code = 3


class TrainingFailed(Exception):
    """Training stopped abnormally (non-finite loss); the run is marked failed."""

    exit_code = 1


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM stopped training after a checkpoint was written; the run can be resumed."""

    exit_code = 130

    def __init__(self, signal_name: str, step: int, checkpoint: object) -> None:
        super().__init__(f"{signal_name} at step {step}; checkpoint {checkpoint}")
        self.signal_name, self.step, self.checkpoint = signal_name, step, checkpoint
