"""`goaltune sweep --backend ray`: each run of a sweep is a Ray task, on this machine or a cluster.

With no address a local Ray instance is started for the sweep (and stopped after it); with
`--address auto` or `HOST:PORT` the runs go to a running cluster, whose nodes must see the sweep
folder at the same path (a shared filesystem) and have goaltune installed. The driver (this
process) alone creates the run folders and writes sweep.json, as with local workers. Each task asks
for one GPU when the cluster has GPUs (Ray sets its CUDA_VISIBLE_DEVICES), else for its share of
the CPUs. The first run of each distinct base evaluation goes first and fills the eval cache in the
sweep folder, so every base model is evaluated once. A task whose worker dies (killed, out of
memory, a lost node) is started again by Ray up to RETRIES times, and the run resumes from its last
checkpoint, as `goaltune sweep --resume` would.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from goaltune.errors import GoaltuneError
from goaltune.extras import require
from goaltune.sweep import (
    Log,
    Sweep,
    finish,
    mark_interrupted,
    pending_runs,
    prepare_run_dir,
    run_in_worker,
    settle,
    waves,
)

RETRIES = 3
OBJECT_STORE_BYTES = 200 * 1024**2  # runs pass only small tuples: keep Ray's shared memory small


def run_point(folder: str, position: int, threads: int) -> str | None:
    """One run of the sweep in a Ray worker: its error, or None."""
    import torch

    torch.set_num_threads(threads)
    return run_in_worker(folder, position)[2]


def start_ray(address: str | None, cpus: int) -> bool:
    """Connect to the cluster at `address`, or start a local instance; True if one was started."""
    import ray

    if ray.is_initialized():
        return False
    quiet: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address:
        try:
            ray.init(address=address, **quiet)
        except ConnectionError as error:  # no cluster there ("auto" with none running)
            raise GoaltuneError(f"--address {address}: {error}") from None
    else:
        ray.init(
            num_cpus=cpus,
            include_dashboard=False,
            object_store_memory=OBJECT_STORE_BYTES,
            **quiet,
        )
    return True


def require_ray() -> None:
    """One line naming the extra when Ray is not installed."""
    require("goaltune sweep --backend ray", ["ray"])


def run_sweep_on_ray(
    sweep: Sweep, log: Log, address: str | None = None, jobs: int = 1
) -> list[Path]:
    """Run every unfinished run as a Ray task (at most `jobs` at once on a local instance's CPUs);
    a failed run does not stop the others. Returns the finished run folders."""
    require_ray()
    import ray

    pending = pending_runs(sweep, log)
    for _, entry in pending:  # run folders are made here, so only this process writes sweep.json
        prepare_run_dir(sweep, entry)
    cpus = os.cpu_count() or 1
    threads = max(1, cpus // jobs)
    started = start_ray(address, threads * min(jobs, cpus))
    hits = misses = 0
    try:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        task = ray.remote(num_cpus=1 if gpus else threads, num_gpus=gpus, max_retries=RETRIES)(
            run_point
        )
        for wave in waves(pending):
            hits, misses = _run_wave(ray, task, sweep, wave, threads, log, (hits, misses))
    except KeyboardInterrupt:
        mark_interrupted(sweep)
        raise
    finally:
        if started:
            ray.shutdown()
    return finish(sweep, (hits, misses), log)


def _run_wave(
    ray: Any,
    task: Any,
    sweep: Sweep,
    wave: list[tuple[int, dict[str, Any]]],
    threads: int,
    log: Log,
    counts: tuple[int, int],
) -> tuple[int, int]:
    """Submit a wave's runs, wait for all of them; returns the cache counts so far.

    The counts come from each run's before.json (reused or computed), so the evaluation of a run
    whose worker died after its before-evaluation is still counted, once.
    """
    hits, misses = counts
    folder = str(sweep.folder.resolve())
    refs = []
    for index, entry in wave:
        log(f"[{index}/{len(sweep.runs)}] {entry['name']}: submitted to Ray")
        refs.append((index, entry, task.remote(folder, index, threads)))
    interrupted = False
    try:
        for index, entry, ref in refs:
            try:
                error = ray.get(ref)
            except ray.exceptions.RayError as lost:  # its worker died more than RETRIES times
                error = f"lost: {type(lost).__name__}: {lost}"
            interrupted = settle(sweep, index, entry, error, log) or interrupted
            source = entry.get("before_eval") or ""
            hits += source.startswith("reused")
            misses += source.startswith("computed")
    except KeyboardInterrupt:
        for _, _, ref in refs:
            ray.cancel(ref, force=True)
        raise
    if interrupted:
        raise KeyboardInterrupt
    return hits, misses
