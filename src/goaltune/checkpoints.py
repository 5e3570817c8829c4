"""Training checkpoints: written atomically, pruned to the last K, read back for resume.

A checkpoint folder `checkpoints/step-000050/` holds the trainable (adapter) weights as
safetensors, the optimizer and scheduler states, RNG states (`rng.pt`, plus `rng-rank-N.pt` for
each further process), and `state.json` with the data position, the number of processes and the
loss figures so far. It is staged under a temporary name and renamed into place only when
complete, so `latest_checkpoint` never returns a half-written one. Under FSDP or DeepSpeed the
weights and optimizer state are Accelerate's `save_state` output in `accelerate/`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from goaltune.errors import RunError
from goaltune.run_folder import write_failure

STATE_FILE = "state.json"
ACCELERATE_STATE = "accelerate"


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_dir():
            continue
        with path.open("rb") as handle:
            os.fsync(handle.fileno())


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) RNG states, as torch.load(weights_only=True) accepts."""
    # numpy's stub resolves the default call to the dict overload; the global MT19937 generator's
    # legacy state (the runtime default) is this tuple.
    legacy = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state(legacy=True))
    kind, keys, pos, has_gauss, cached = legacy
    state = {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put back the RNG states saved by `rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def rng_file(rank: int) -> str:
    """The RNG state file of a process: `rng.pt` for the main one, `rng-rank-N.pt` for others."""
    return "rng.pt" if rank == 0 else f"rng-rank-{rank}.pt"


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """The parameters being trained (the adapter), detached and contiguous on CPU."""
    return {
        n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad
    }


def checkpoint_path(folder: Path, step: int) -> Path:
    """Where the checkpoint of `step` goes."""
    return folder / f"step-{step:06d}"


def save_checkpoint(
    folder: Path,
    step: int,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    keep: int,
    rng_states: list[dict[str, Any]] | None = None,
) -> Path:
    """Write `folder/step-NNNNNN` atomically, then keep only the newest `keep` checkpoints.

    `rng_states` holds every process's RNG state in rank order (default: this process's).
    A failed write (disk full) removes the staging folder, keeps the earlier checkpoints and
    raises RunError.
    """
    target = checkpoint_path(folder, step)
    staging = folder / f".staging-step-{step:06d}"
    try:
        _write_checkpoint(
            target, staging, step, model, optimizer, scheduler, state, rng_states or [rng_state()]
        )
    except OSError as error:
        raise write_failure(target, error) from error
    except RuntimeError as error:  # torch.save reports a failed write as a RuntimeError
        raise RunError(f"cannot write {target} ({error})") from error
    prune_checkpoints(folder, keep)
    return target


def _write_checkpoint(
    target: Path,
    staging: Path,
    step: int,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    rng_states: list[dict[str, Any]],
) -> None:
    """Stage every file of the checkpoint, sync them, then rename the staging folder into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        save_file(trainable_state(model), str(staging / "adapter.safetensors"))
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        torch.save(scheduler.state_dict(), staging / "scheduler.pt")
        for rank, rng in enumerate(rng_states):
            torch.save(rng, staging / rng_file(rank))
        (staging / STATE_FILE).write_text(json.dumps({"step": step, **state}))
        _fsync_tree(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("step-*") if (p / STATE_FILE).is_file())


def prune_checkpoints(folder: Path, keep: int) -> None:
    """Delete all but the newest `keep` complete checkpoints."""
    for old in list_checkpoints(folder)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint, or None."""
    found = list_checkpoints(folder)
    return found[-1] if found else None


def load_checkpoint(
    path: Path, model: Any, optimizer: Any, scheduler: Any, rank: int = 0
) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and this process's RNG; returns its state.json."""
    try:
        weights = load_file(str(path / "adapter.safetensors"))
        parameters = dict(model.named_parameters())
        with torch.no_grad():
            for name, tensor in weights.items():
                parameters[name].copy_(tensor)
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
        restore_rng_state(torch.load(path / rng_file(rank), weights_only=True))
        return json.loads((path / STATE_FILE).read_text())
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        raise RunError(f"{path}: checkpoint cannot be loaded ({error})") from error


def checkpoint_processes(path: Path) -> int:
    """How many processes trained the checkpoint (state.json; older checkpoints: 1)."""
    try:
        return int(json.loads((path / STATE_FILE).read_text()).get("processes", 1))
    except (OSError, ValueError, AttributeError) as error:
        raise RunError(f"{path / STATE_FILE}: cannot be read ({error})") from error


def save_accelerate_checkpoint(
    folder: Path,
    step: int,
    accelerator: Any,
    scheduler: Any,
    state: dict[str, Any],
    keep: int,
    dist: Any,
) -> Path:
    """Sharded weights or optimizer (FSDP, DeepSpeed): every process writes its part with
    Accelerate's `save_state` into the staging folder, then the main process completes it."""
    target = checkpoint_path(folder, step)
    staging = folder / f".staging-step-{step:06d}"
    if dist.is_main:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
    dist.barrier()
    accelerator.save_state(str(staging / ACCELERATE_STATE))
    dist.barrier()
    if dist.is_main:
        try:
            torch.save(scheduler.state_dict(), staging / "scheduler.pt")
            (staging / STATE_FILE).write_text(json.dumps({"step": step, **state}))
            _fsync_tree(staging)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise write_failure(target, error) from error
        prune_checkpoints(folder, keep)
    dist.barrier()
    return target


def load_accelerate_checkpoint(path: Path, accelerator: Any, scheduler: Any) -> dict[str, Any]:
    """Restore a `save_accelerate_checkpoint` checkpoint on every process; returns state.json."""
    if not (path / ACCELERATE_STATE).is_dir():
        raise RunError(
            f"{path}: not written under FSDP/DeepSpeed; resume with the same "
            "Accelerate config it was trained with"
        )
    try:
        accelerator.load_state(str(path / ACCELERATE_STATE))
        scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
        return json.loads((path / STATE_FILE).read_text())
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        raise RunError(f"{path}: checkpoint cannot be loaded ({error})") from error
