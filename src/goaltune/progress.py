"""The one terminal progress bar, shared by training and evaluation loops."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressBar:
    """A rich bar over one task (done/total, elapsed, ETA), or a silent stand-in when hidden.

    `fields` maps a field name to its column text, e.g. `{"loss": "loss {}"}`; `update` sets the
    values (shown as "-" until then).
    """

    def __init__(
        self,
        label: str,
        total: int,
        *,
        show: bool = True,
        completed: int = 0,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        fields = fields or {}
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if not show:
            return
        self._progress = Progress(
            TextColumn(f"[bold]{label}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            *(TextColumn(text.format(f"{{task.fields[{name}]}}")) for name, text in fields.items()),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        # rich takes the column fields as **Any; a dict[str, str] would be matched to its flags
        blank: dict[str, Any] = dict.fromkeys(fields, "-")
        self._task = self._progress.add_task(label, total=total, completed=completed, **blank)

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, amount: int = 1) -> None:
        """Count `amount` more units done."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=amount)

    def update(self, completed: int, **fields: str) -> None:
        """Set the units done and the shown field values."""
        if self._progress is not None and self._task is not None:
            shown: dict[str, Any] = dict(fields)
            self._progress.update(self._task, completed=completed, **shown)
