"""Reuse a base model's before-evaluation across runs (a sweep evaluates each base model once).

A before-evaluation depends only on the base model, the evaluated items and the evaluation
settings, so runs that vary LoRA or training settings share it. Each entry is one JSON file,
`<folder>/<sha256 of the key>.json`, holding the key and the result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from goaltune.config import RunConfig
from goaltune.evaluate.benchmarks.registry import file_spec
from goaltune.models import resolve_model
from goaltune.run_folder import read_json, write_json

Json = dict[str, Any]

# Bumped when a stored result would no longer pair with a fresh after-evaluation. 2: the qa:
# benchmark's `exact_match` became `qa_exact_match`.
SCORING_VERSION = 2


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_identity(path: Path) -> list[Any]:
    """(name, size, mtime) of a weights file, or of every file directly in a model folder."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def model_identity(config: RunConfig) -> Json:
    """What determines the base model's outputs: where its weights are and how they are loaded."""
    resolved = resolve_model(config.model.name_or_path)
    local = resolved.kind != "hub"
    return {
        "name_or_path": config.model.name_or_path,
        "revision": config.model.revision,
        "kind": resolved.kind,
        "location": resolved.location,
        "files": _file_identity(Path(resolved.location)) if local else None,
        "dtype": config.model.dtype,
        "chat_template": config.model.chat_template,
        "trust_remote_code": config.model.trust_remote_code,
    }


def _file_sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def benchmark_data_identity(config: RunConfig) -> Json:
    """The content of users' benchmark files (`mc:PATH`...) and the benchmark data folder's
    files, so that editing them invalidates a cached evaluation."""
    files = {
        spec: _file_sha256(parts.file)
        for spec in config.eval.benchmarks
        if (parts := file_spec(spec)) is not None
    }
    folder = config.eval.benchmark_data_dir
    listing = None
    if folder and Path(folder).is_dir():
        listing = [
            [str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(Path(folder).rglob("*"))
            if p.is_file()
        ]
    return {"files_sha256": files, "data_dir_files": listing}


def before_key(config: RunConfig, items: list[Json] | None) -> Json:
    """The cache key of a before-evaluation: model, adapter, task items, benchmarks (and their
    data files), settings."""
    return {
        "scoring": SCORING_VERSION,
        "model": model_identity(config),
        "adapter": None,
        "task": {
            "name": config.data.test or config.data.train,
            "items_sha256": _digest(items) if items else None,
        },
        "eval": config.eval.model_dump(mode="json"),  # benchmarks, generation settings, limits
        "benchmark_data": benchmark_data_identity(config),
    }


class EvalCache:
    """Before-evaluations stored as JSON in one folder, with hit and miss counts."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0

    def fetch(
        self, config: RunConfig, items: list[Json] | None, evaluate: Callable[[], Json]
    ) -> Json:
        """The stored result for this key, or `evaluate()` stored under it.

        The returned result carries `eval_cache: {key_sha256, hit}` so each run's before.json says
        where it came from.
        """
        key = before_key(config, items)
        digest = _digest(key)
        path = self.folder / f"{digest}.json"
        stored = read_json(path) if path.is_file() else {}
        hit = _digest(stored.get("key")) == digest
        if hit:
            self.hits += 1
            result = stored["result"]
        else:
            self.misses += 1
            result = evaluate()
            write_json(path, {"key": key, "result": result})
        return {**result, "eval_cache": {"key_sha256": digest, "hit": hit}}
