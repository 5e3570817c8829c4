"""Run folders: naming, creation, status, atomic writes, and listing."""

from __future__ import annotations

import csv
import errno
import glob
import io
import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from goaltune.errors import RunError

STATUSES = ("running", "finished", "failed", "interrupted")
LOSS_COLUMNS = (
    "step",
    "epoch",
    "train_loss",
    "val_loss",
    "learning_rate",
    "grad_norm",
    "tokens_seen",
    "elapsed_s",
)


def utc_now() -> str:
    """The current UTC time in ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sanitize_name(name: str) -> str:
    """A run name safe as one folder name: no separators, no traversal, at most 80 chars."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-_")
    return cleaned[:80] or "run"


def create_run_dir(output_dir: str | Path, name: str) -> Path:
    """Create `output_dir/<name>-<UTC timestamp>/`, never reusing an existing folder."""
    root = Path(output_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"{root}: cannot create the runs folder ({error.strerror})") from None
    if not os.access(root, os.W_OK):
        raise RunError(f"{root}: the runs folder is not writable")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = f"{sanitize_name(name)}-{stamp}"
    for attempt in range(1000):
        candidate = root / (base if attempt == 0 else f"{base}-{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RunError(f"{root}: could not find a free run folder name for {base}")


def write_failure(path: str | Path, error: OSError) -> RunError:
    """A RunError for a failed write: `disk full while writing X` or `cannot write X (why)`."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return RunError(f"disk full while writing {path}")
    return RunError(f"cannot write {path} ({error.strerror or error})")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file so readers see the old content or the new, never a partial file.

    A failed write (disk full, no permission) leaves the old file and raises RunError.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise write_failure(path, error) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_failure(path, error) from None
        raise


def write_json(path: str | Path, value: Any) -> None:
    """Atomically write pretty JSON."""
    atomic_write_text(path, json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON artifact, raising RunError that names the file when it is missing or broken."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except json.JSONDecodeError as error:
        raise RunError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None


def write_yaml(path: str | Path, value: Any) -> None:
    """Atomically write YAML."""
    atomic_write_text(path, yaml.safe_dump(value, sort_keys=False))


def set_status(run_dir: str | Path, status: str, reason: str | None = None, **extra: Any) -> None:
    """Record the run's status (running / finished / failed / interrupted) in status.json."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status}")
    write_json(
        Path(run_dir) / "status.json",
        {"status": status, "reason": reason, "updated": utc_now(), **extra},
    )


def read_status(run_dir: str | Path) -> dict[str, Any]:
    """The run's status record; a folder without one reads as status 'unknown'."""
    path = Path(run_dir) / "status.json"
    return read_json(path) if path.is_file() else {"status": "unknown", "reason": None}


class LossHistoryWriter:
    """Appends rows to loss_history.csv, each synced to disk, so a crash keeps every logged row.

    A failed write (disk full) is cut off again, so the file never ends in a partial row.
    """

    def __init__(self, path: str | Path, append: bool = False) -> None:
        self.path = Path(path)
        new_file = not (append and self.path.is_file())
        mode = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if new_file else os.O_APPEND)
        try:
            self._fd = os.open(self.path, mode, 0o644)
        except OSError as error:
            raise write_failure(self.path, error) from None
        if new_file:
            self._write(LOSS_COLUMNS)

    def _write(self, values: Any) -> None:
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(values)
        data = line.getvalue().encode("utf-8")
        size = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while data:
                data = data[os.write(self._fd, data) :]
            os.fsync(self._fd)
        except OSError as error:
            os.ftruncate(self._fd, size)
            raise write_failure(self.path, error) from None

    def append(self, row: dict[str, Any]) -> None:
        """Write one logged step; missing columns stay empty."""
        self._write([_csv_value(row.get(key)) for key in LOSS_COLUMNS])

    def close(self) -> None:
        os.close(self._fd)


def truncate_loss_history(path: str | Path, last_step: int) -> None:
    """Drop rows logged after `last_step` (they belong to steps a resume will redo)."""
    path = Path(path)
    if not path.is_file():
        return
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= last_step]
    lines = [",".join(LOSS_COLUMNS)] + [",".join(row[c] for c in LOSS_COLUMNS) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e-3 and value != 0 else round(value, 6)
    return value


def resolve_run_dir(run: str | Path, output_dir: str | Path = "runs") -> Path:
    """Find a run folder by path or by name under the runs folder (the newest match wins)."""
    path = Path(run)
    if path.is_dir():
        return path
    if path.is_absolute() or len(path.parts) > 1:
        raise RunError(f"{run}: no such run folder")
    matches = sorted(Path(output_dir).glob(f"{glob.escape(str(run))}*"))
    matches = [m for m in matches if m.is_dir()]
    if not matches:
        raise RunError(f"{run}: no such run folder")
    return matches[-1]
