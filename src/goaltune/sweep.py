"""`goaltune sweep`: a grid of runs from one config that share the base model's evaluation.

The sweep folder, `<output_dir>/sweep-<name>-<stamp>/` (or `--out DIR`), holds `sweep.json` (the
grid, every run's resolved config and folder, and its status), `eval-cache/` (the base model's
before-evaluations, see evalcache.py), one folder per run, and the comparison grouped by the first
grid key. Starting a sweep again on the same folder skips finished runs and resumes the others.
Runs go one after another, or with `jobs` > 1 in that many worker processes (each with its share of
the CPU threads): first one run per distinct base evaluation, so every base model is evaluated
once, then the rest, which find that evaluation in the cache. Only the main process writes
sweep.json.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from goaltune.compare import Comparison, compare_runs, write_comparison
from goaltune.config import RunConfig, config_from_dict, load_config, resolve_key_path, set_by_path
from goaltune.errors import ConfigError, RunError, TrainingInterrupted
from goaltune.evalcache import EvalCache
from goaltune.run_folder import (
    RunFolder,
    SweepFolder,
    create_run_dir,
    read_json,
    sanitize_name,
    utc_now,
    write_json,
)

CACHE_FOLDER = "eval-cache"
Grid = dict[str, list[Any]]
Log = Callable[[str], None]


def parse_grid(specs: list[str]) -> Grid:
    """`lora.r=8,16,64` -> {'lora.r': [8, 16, 64]}; short keys are expanded, values are YAML."""
    grid: Grid = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not values.strip():
            raise ConfigError(f"--grid {spec!r}: expected KEY=VALUE,VALUE,...")
        path = resolve_key_path(key.strip())
        if path in grid:
            raise ConfigError(f"--grid {spec!r}: {path} is already in the grid")
        grid[path] = [yaml.safe_load(value.strip()) for value in values.split(",")]
    if not grid:
        raise ConfigError("a sweep needs at least one --grid KEY=VALUES")
    return grid


def expand_grid(grid: Grid) -> list[dict[str, Any]]:
    """The cartesian product as one override dict per run; the first key varies slowest."""
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def run_name(base: str, overrides: dict[str, Any]) -> str:
    """E.g. 'json-api-r8-num_train_epochs1' (the last part of each key, then its value)."""
    parts = [f"{key.rsplit('.', 1)[-1]}{value}" for key, value in overrides.items()]
    return sanitize_name("-".join([base, *parts]))


def run_configs(base: RunConfig, grid: Grid, sweep_dir: Path) -> list[dict[str, Any]]:
    """One sweep.json entry (overrides and resolved config) per grid point, validated."""
    entries = []
    for overrides in expand_grid(grid):
        raw = base.model_dump(mode="json")
        for key, value in overrides.items():
            set_by_path(raw, key, value)
        raw.update(name=run_name(base.name, overrides), output_dir=str(sweep_dir))
        config = config_from_dict(raw, source=f"sweep point {overrides}")
        entries.append(
            {
                "name": config.name,
                "overrides": overrides,
                "config": config.model_dump(mode="json"),
                "run_dir": None,
            }
        )
    return entries


@dataclass
class Sweep:
    """A sweep folder and its sweep.json content."""

    folder: Path
    state: dict[str, Any]

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.state["runs"]

    def save(self) -> None:
        self.state["updated"] = utc_now()
        write_json(SweepFolder(self.folder).state_path, self.state)

    def run_dir(self, entry: dict[str, Any]) -> Path | None:
        return self.folder / entry["run_dir"] if entry["run_dir"] else None

    def status(self, entry: dict[str, Any]) -> str:
        folder = self.run_dir(entry)
        return RunFolder(folder).read_status().status if folder and folder.is_dir() else "pending"


def open_sweep(folder: Path) -> Sweep:
    """An existing sweep folder (for --resume)."""
    path = SweepFolder(Path(folder)).state_path
    if not path.is_file():
        raise RunError(f"{folder}: not a sweep folder (no {path.name})")
    return Sweep(Path(folder), read_json(path))


def _plan(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run configs of a sweep, wherever its folder is."""
    return [{**entry["config"], "output_dir": None} for entry in entries]


def create_sweep(config_path: Path, grid: Grid, out: Path | None = None) -> Sweep:
    """Plan a sweep: a new folder, or `out`; an existing plan there must be the same grid."""
    base = load_config(config_path)
    folder = Path(out) if out else create_run_dir(base.output_dir, f"sweep-{base.name}")
    folder.mkdir(parents=True, exist_ok=True)
    entries = run_configs(base, grid, folder)
    if SweepFolder(folder).is_sweep():
        sweep = open_sweep(folder)
        if _plan(sweep.runs) != _plan(entries):
            raise ConfigError(
                f"{folder} holds a different sweep; pick a new --out or use --resume {folder}"
            )
        return sweep
    sweep = Sweep(
        folder,
        {
            "name": base.name,
            "config": str(config_path),
            "grid": grid,
            "created": utc_now(),
            "status": "running",
            "eval_cache": CACHE_FOLDER,
            "runs": entries,
        },
    )
    sweep.save()
    return sweep


def prepare_run_dir(sweep: Sweep, entry: dict[str, Any]) -> RunConfig:
    """The entry's config, pointed at the sweep folder; its run folder is created if missing."""
    from goaltune.pipeline import start_run

    config = config_from_dict(
        entry["config"], source=f"{SweepFolder(sweep.folder).state_path.name}: {entry['name']}"
    )
    config.output_dir = str(sweep.folder)  # the folder may have moved since it was planned
    folder = sweep.run_dir(entry)
    if folder is None or not folder.is_dir():
        entry["run_dir"] = start_run(config).name
        sweep.save()
    return config


def _run_one(sweep: Sweep, entry: dict[str, Any], cache: EvalCache, show_progress: bool) -> None:
    from goaltune.pipeline import run_pipeline

    config = prepare_run_dir(sweep, entry)
    run_pipeline(config, show_progress, resume_dir=sweep.run_dir(entry), before_cache=cache)


def _record(sweep: Sweep, entry: dict[str, Any]) -> None:
    entry["status"] = sweep.status(entry)
    entry["before_eval"] = _before_source(sweep, entry)
    sweep.save()


def settle(sweep: Sweep, index: int, entry: dict[str, Any], error: str | None, log: Log) -> bool:
    """Log and record a run that a worker ended; True when the worker was interrupted."""
    outcome = f"failed ({error})" if error else sweep.status(entry)
    log(f"[{index}/{len(sweep.runs)}] {entry['name']}: {outcome}")
    _record(sweep, entry)
    return bool(error and error.startswith("interrupted"))


def finish(sweep: Sweep, cache_counts: tuple[int, int], log: Log) -> list[Path]:
    finished = [e for e in sweep.runs if sweep.status(e) == "finished"]
    sweep.state["status"] = "finished" if len(finished) == len(sweep.runs) else "incomplete"
    sweep.save()
    log(
        f"base model evaluations: {cache_counts[1]} computed, {cache_counts[0]} reused from the "
        "cache"
    )
    return [sweep.folder / e["run_dir"] for e in finished]


def mark_interrupted(sweep: Sweep) -> None:
    sweep.state["status"] = "interrupted"
    sweep.save()


def pending_runs(sweep: Sweep, log: Log) -> list[tuple[int, dict[str, Any]]]:
    """(position, entry) of every unfinished run; finished ones are logged as skipped."""
    pending = []
    for index, entry in enumerate(sweep.runs, start=1):
        if sweep.status(entry) == "finished":
            log(f"[{index}/{len(sweep.runs)}] {entry['name']}: finished earlier, skipped")
        else:
            pending.append((index, entry))
    return pending


def run_sweep(sweep: Sweep, log: Log, show_progress: bool = True, jobs: int = 1) -> list[Path]:
    """Run every unfinished run in grid order (`jobs` at a time); a failed run does not stop the
    others, an interrupt does (resume later). Returns the finished run folders."""
    pending = pending_runs(sweep, log)
    if jobs > 1 and len(pending) > 1:
        return _run_parallel(sweep, pending, log, jobs)
    cache = EvalCache(sweep.folder / CACHE_FOLDER)
    for index, entry in pending:
        prefix = f"[{index}/{len(sweep.runs)}] {entry['name']}"
        log(f"{prefix}: {'resuming' if entry['run_dir'] else 'starting'}")
        try:
            _run_one(sweep, entry, cache, show_progress)
        except (KeyboardInterrupt, TrainingInterrupted):
            mark_interrupted(sweep)
            raise
        except Exception as error:  # noqa: BLE001  (a failed grid point spares the rest)
            log(f"{prefix}: failed ({type(error).__name__}: {error})")
        _record(sweep, entry)
    return finish(sweep, (cache.hits, cache.misses), log)


def _evaluation_identity(entry: dict[str, Any]) -> str:
    """What decides an entry's base evaluation: its model, data and eval sections."""
    config = entry["config"]
    return json.dumps([config["model"], config["data"], config["eval"]], sort_keys=True)


def waves(pending: list[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
    """[first run of each base evaluation], [the rest]: the first wave fills the cache."""
    leaders: dict[str, tuple[int, dict[str, Any]]] = {}
    for item in pending:
        leaders.setdefault(_evaluation_identity(item[1]), item)
    first = list(leaders.values())
    return [wave for wave in (first, [item for item in pending if item not in first]) if wave]


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them (none without CUDA)."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    listed = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    return listed[:count] if listed else [str(index) for index in range(count)]


def _worker_init(threads: int, started: Any, gpus: list[str]) -> None:
    """Set the worker's threads; with GPUs, pin the i-th worker started to GPU i mod n."""
    if gpus:
        with started.get_lock():
            index, started.value = started.value, started.value + 1
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)]  # before CUDA starts
    import torch

    torch.set_num_threads(threads)


def run_in_worker(folder: str, position: int) -> tuple[int, int, str | None]:
    """One run of a sweep in a worker process: (cache hits, misses, error or None)."""
    sweep = open_sweep(Path(folder))
    cache = EvalCache(sweep.folder / CACHE_FOLDER)
    try:
        _run_one(sweep, sweep.runs[position - 1], cache, show_progress=False)
    except (KeyboardInterrupt, TrainingInterrupted) as stop:
        return cache.hits, cache.misses, f"interrupted: {stop}"
    except Exception as error:  # noqa: BLE001  (a failed grid point spares the rest)
        return cache.hits, cache.misses, f"{type(error).__name__}: {error}"
    return cache.hits, cache.misses, None


def _run_parallel(
    sweep: Sweep, pending: list[tuple[int, dict[str, Any]]], log: Log, jobs: int
) -> list[Path]:
    for _, entry in pending:  # run folders are made here, so only this process writes sweep.json
        prepare_run_dir(sweep, entry)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    hits = misses = 0
    interrupted = False
    context = multiprocessing.get_context("spawn")
    gpus = visible_gpus()
    try:
        for wave in waves(pending):
            started = context.Value("i", 0)
            with ProcessPoolExecutor(
                jobs,
                mp_context=context,
                initializer=_worker_init,
                initargs=(threads, started, gpus),
            ) as pool:
                futures = []
                for index, entry in wave:
                    log(f"[{index}/{len(sweep.runs)}] {entry['name']}: started in a worker")
                    futures.append(
                        (index, entry, pool.submit(run_in_worker, str(sweep.folder), index))
                    )
                for index, entry, future in futures:
                    run_hits, run_misses, error = future.result()
                    hits, misses = hits + run_hits, misses + run_misses
                    interrupted = settle(sweep, index, entry, error, log) or interrupted
            if interrupted:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        mark_interrupted(sweep)
        raise
    return finish(sweep, (hits, misses), log)


def _before_source(sweep: Sweep, entry: dict[str, Any]) -> str | None:
    folder = sweep.run_dir(entry)
    if folder is None or not RunFolder(folder).eval_path("before").is_file():
        return None
    cached = RunFolder(folder).read_eval("before").eval_cache or {}
    return f"{'reused' if cached.get('hit') else 'computed'} {cached.get('key_sha256', '')}".strip()


def compare_sweep(sweep: Sweep, finished: list[Path]) -> Comparison | None:
    """The comparison of the finished runs, grouped by the first grid key, in the sweep folder."""
    if len(finished) < 2:
        return None
    comparison = compare_runs(finished, group_by=next(iter(sweep.state["grid"])))
    write_comparison(comparison, sweep.folder)
    sweep.state["comparison"] = {
        "group_by": comparison.factor,
        "html": SweepFolder(sweep.folder).comparison_path("html").name,
        "markdown": SweepFolder(sweep.folder).comparison_path("md").name,
        "json": SweepFolder(sweep.folder).comparison_path("json").name,
    }
    sweep.save()
    return comparison
