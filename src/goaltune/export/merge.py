"""A merged run model (`goaltune.adapters.merge_run`) as a standard Transformers folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from goaltune.adapters import RunModel
from goaltune.errors import GoaltuneError


def check_target(target: str | Path, overwrite: bool) -> None:
    """Refuse to replace an existing file or non-empty folder unless `overwrite`."""
    target = Path(target)
    if target.exists() and not overwrite and (target.is_file() or any(target.iterdir())):
        raise GoaltuneError(f"{target}: already exists (pass --overwrite to replace it)")


def save_merged(merged: RunModel, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write a standard Transformers folder: safetensors, config, generation config, tokenizer
    and chat template. Staged, then renamed into place."""
    out_dir = Path(out_dir)
    check_target(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tokenizer, generation = merged.tokenizer, merged.model.generation_config
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if getattr(generation, name, None) is None:  # keep the base's (e.g. several EOS ids)
            setattr(generation, name, getattr(tokenizer, name))
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        merged.model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir
