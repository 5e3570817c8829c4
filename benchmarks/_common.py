"""Helpers shared by the benchmark scripts: workers in subprocesses, machine facts, matmul peaks.

Each tool runs in its own Python subprocess (the script re-invoked with `--worker NAME`), so the
peak RSS each one reports is its own. A worker reads a JSON job file and writes a JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _figures import REPO

from goaltune.pipeline import library_versions

RESULTS = REPO / "benchmarks" / "results"


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def versions() -> dict[str, str | None]:
    """Installed versions of the libraries that shape the measurements (goaltune's list + TRL)."""
    return library_versions(extra=("trl",))


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or the platform string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    info = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "avx2": " avx2" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_at_start": list(os.getloadavg()),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "versions": versions(),
    }
    return info


def matmul_gflops(dtype_name: str, seconds: float = 1.5) -> dict[str, Any]:
    """Best square-matmul rate (GFLOP/s) for a dtype on the default device and thread count.

    Sizes grow until one product takes over ~0.2 s (slow dtypes stop at small sizes), and each
    size is timed for about `seconds`; the best single product of any size is the peak.
    """
    import torch

    dtype = getattr(torch, dtype_name)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    best, best_size = 0.0, 0
    for size in (256, 512, 1024, 2048, 4096):
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        a @ b  # warm-up
        deadline, single = time.perf_counter() + seconds, float("inf")
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            a @ b
            if device == "cuda":
                torch.cuda.synchronize()
            single = min(single, time.perf_counter() - start)
        rate = 2 * size**3 / single / 1e9
        if rate > best:
            best, best_size = rate, size
        if single > 0.2:
            break
    return {"dtype": dtype_name, "gflops": round(best, 2), "size": best_size, "device": device}


def run_worker(
    script: Path,
    worker: str,
    job: Path,
    result: Path,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run `script --worker NAME --job JOB --result RESULT` and return its JSON result.

    A worker that fails or runs past `timeout` returns {"error": ...} with its stderr tail.
    """
    command = [
        sys.executable,
        str(script),
        "--worker",
        worker,
        "--job",
        str(job),
        "--result",
        str(result),
    ]
    started = time.perf_counter()
    log(f"{worker}: {job.stem.removesuffix('.job')} ...")
    try:
        done = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        return {
            "error": f"stopped after the {timeout:.0f} s time limit",
            "timed_out": True,
            "process_wall_s": round(time.perf_counter() - started, 1),
        }
    if done.returncode != 0 or not result.is_file():
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        return {"error": f"worker '{worker}' exited with {done.returncode}:\n{tail}"}
    data = json.loads(result.read_text())
    data["process_wall_s"] = round(time.perf_counter() - started, 1)
    log(f"{worker}: done in {data['process_wall_s']} s")
    return data


def add_shared_options(parser: argparse.ArgumentParser) -> None:
    """--out, --markdown and the hidden options a worker subprocess is started with."""
    parser.add_argument("--out", type=Path, help="JSON output (default: benchmarks/results/...)")
    parser.add_argument(
        "--markdown",
        metavar="RESULTS.json",
        help="print the Markdown tables of an existing results file; runs nothing",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)


def served_without_measuring(args: argparse.Namespace, workers: dict[str, Any]) -> bool:
    """Run as a worker subprocess, or print an existing file's tables; True when that was done."""
    if args.worker:
        worker_main(workers, args.worker, args.job, args.result)
        return True
    if args.markdown:
        from tables import markdown  # tables imports this module

        print(markdown([args.markdown]))
        return True
    return False


def worker_main(workers: dict[str, Any], name: str, job: str, result: str) -> None:
    """Entry point inside a worker subprocess: run `workers[name](job)` and write its result."""
    payload = json.loads(Path(job).read_text())
    output = workers[name](payload)
    output["peak_rss_mib"] = round(peak_rss_mib(), 1)
    Path(result).write_text(json.dumps(output, indent=2))


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write `data` as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def console() -> Any:
    """A rich console wide enough for the tables even when output is piped."""
    from rich.console import Console

    return Console(width=max(Console().width, 180))


def log(message: str) -> None:
    """A progress line on stderr with the wall-clock time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
