"""A disk that fills up: complete artifacts stay intact and readable, no partial files remain."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from typer.testing import CliRunner

from goaltune.checkpoints import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from goaltune.cli import app
from goaltune.errors import RunError
from goaltune.run_folder import LossHistoryWriter, atomic_write_text, read_loss_history
from tests.conftest import copy_fixture_run, write_config

FINISHED = "finished-20260101T000000Z"


def disk_full(*_: Any, **__: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def leftovers(folder: Path) -> list[Path]:
    """Temporary or staging files and folders (their names start with a dot)."""
    return list(folder.rglob(".*"))


def test_atomic_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "status.json"
    atomic_write_text(path, '{"status": "running"}\n')
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(RunError, match=f"disk full while writing {path}"):
        atomic_write_text(path, '{"status": "finished"}\n')
    assert json.loads(path.read_text()) == {"status": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_unwritable_target_is_a_run_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="cannot write .*file/out.json"):
        atomic_write_text(tmp_path / "file" / "out.json", "{}")


def tiny_training_state() -> tuple[torch.nn.Module, Any, Any]:
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(1, 4)).sum().backward()
    optimizer.step()
    return model, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def partial_torch_save(original: Callable[..., None]) -> Callable[..., None]:
    """torch.save that writes half a file, then finds the disk full."""

    def save(obj: Any, path: Path) -> None:
        original(obj, path)
        Path(path).write_bytes(Path(path).read_bytes()[:10])
        disk_full()

    return save


@pytest.mark.parametrize("fail", ["fsync", "torch.save"])
def test_failed_checkpoint_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: str
) -> None:
    model, optimizer, scheduler = tiny_training_state()
    folder = tmp_path / "checkpoints"
    first = save_checkpoint(folder, 1, model, optimizer, scheduler, {"epochs": 0.1}, keep=2)
    files = {p.name: p.read_bytes() for p in first.iterdir()}
    if fail == "fsync":
        monkeypatch.setattr(os, "fsync", disk_full)
    else:
        monkeypatch.setattr(torch, "save", partial_torch_save(torch.save))
    with pytest.raises(RunError, match="disk full while writing .*step-000002"):
        save_checkpoint(folder, 2, model, optimizer, scheduler, {"epochs": 0.2}, keep=1)
    monkeypatch.undo()
    assert list_checkpoints(folder) == [first] and latest_checkpoint(folder) == first
    assert [p.name for p in folder.iterdir()] == ["step-000001"]
    assert {p.name: p.read_bytes() for p in first.iterdir()} == files
    assert load_checkpoint(first, model, optimizer, scheduler)["step"] == 1


def test_loss_history_never_ends_in_a_partial_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "loss_history.csv"
    writer = LossHistoryWriter(path)
    for step in (1, 2):
        writer.append({"step": step, "epoch": step / 10, "train_loss": 1.0 / step})
    complete = path.read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        real_write(fd, data[: len(data) // 2])
        disk_full()
        return 0

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(RunError, match=f"disk full while writing {path}"):
        writer.append({"step": 3, "epoch": 0.3, "train_loss": 0.3})
    monkeypatch.undo()
    assert path.read_bytes() == complete
    assert [row["step"] for row in read_loss_history(path)] == [1, 2]
    writer.append({"step": 3, "epoch": 0.3, "train_loss": 0.3})  # space freed: logging goes on
    writer.close()
    assert [row["step"] for row in read_loss_history(path)] == [1, 2, 3]


def fail_nth_call(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, n: int) -> None:
    """Make the n-th call of `module.name` (and only that one) raise ENOSPC."""
    original, calls = getattr(module, name), []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == n:
            disk_full()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


@pytest.mark.integration
def test_run_with_a_full_disk_fails_cleanly_and_resumes(
    tmp_path: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(tmp_path, tiny_model_dir)
    raw = yaml.safe_load(config.read_text())
    raw["train"].update(max_steps=4, save_steps=2, eval_steps=2)
    config.write_text(yaml.safe_dump(raw))
    runs = tmp_path / "runs"
    copy_fixture_run(runs / FINISHED)
    finished = {p: p.read_bytes() for p in (runs / FINISHED).rglob("*") if p.is_file()}
    import goaltune.checkpoints as checkpoints

    fail_nth_call(monkeypatch, checkpoints, "save_file", 2)  # the step-4 checkpoint
    result = CliRunner().invoke(app, ["train", str(config), "--quiet"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: disk full while writing")
    assert "step-000004" in lines[0]
    (run_dir,) = [p for p in runs.iterdir() if p.name != FINISHED]
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "disk full" in status["reason"]
    assert [p.name for p in list_checkpoints(run_dir / "checkpoints")] == ["step-000002"]
    assert [row["step"] for row in read_loss_history(run_dir / "loss_history.csv")] == [1, 2, 3, 4]
    assert not leftovers(run_dir) and not (run_dir / "adapter").exists()
    assert {p: p.read_bytes() for p in (runs / FINISHED).rglob("*") if p.is_file()} == finished
    monkeypatch.undo()

    result = CliRunner().invoke(app, ["train", "--resume", str(run_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    assert [row["step"] for row in read_loss_history(run_dir / "loss_history.csv")] == [1, 2, 3, 4]
    assert (run_dir / "adapter" / "adapter_config.json").is_file()


def test_status_that_cannot_be_written_keeps_the_first_error(
    tmp_path: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(tmp_path, tiny_model_dir)
    import goaltune.train as train

    def full_from_now_on(writer: LossHistoryWriter, row: dict[str, Any]) -> None:
        monkeypatch.setattr(os, "fsync", disk_full)
        raise RunError(f"disk full while writing {writer.path}")

    monkeypatch.setattr(train.LossHistoryWriter, "append", full_from_now_on)
    result = CliRunner().invoke(app, ["train", str(config), "--quiet"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: disk full while writing")
    assert lines[0].endswith("loss_history.csv")
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "running"
    assert not leftovers(run_dir)
