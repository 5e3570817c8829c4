"""Atomic file writes and JSON/YAML reads that name the file when something goes wrong."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from goaltune.errors import RunError


def utc_now() -> str:
    """The current UTC time in ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
        raise write_failure(path, error) from error
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
            raise write_failure(path, error) from error
        raise


def write_json(path: str | Path, value: Any) -> None:
    """Atomically write pretty JSON."""
    atomic_write_text(path, json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file, raising RunError that names the file when it is missing or broken."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise RunError(f"{path}: missing") from error
    except json.JSONDecodeError as error:
        raise RunError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from error


def write_yaml(path: str | Path, value: Any) -> None:
    """Atomically write YAML."""
    atomic_write_text(path, yaml.safe_dump(value, sort_keys=False))
