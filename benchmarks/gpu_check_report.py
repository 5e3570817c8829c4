"""The table benchmarks/gpu_check.sh prints: one line per run of the device check.

    python benchmarks/gpu_check_report.py RUNS_FOLDER CASE...

Each CASE names the newest run folder RUNS_FOLDER/gpu-check-CASE-*; its line shows the processes,
bf16, training tokens/s, peak VRAM per process, the json_valid change and the verdict. Exits 1
when a run did not train on a CUDA device.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HEADER = (
    f"{'case':6} {'procs':>5} {'bf16':>5} {'tokens/s':>9} {'peak VRAM MiB per process':>27} "
    f"{'json_valid before -> after':>27}  verdict"
)


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def summary_line(case: str, run: Path) -> tuple[str, bool]:
    """The case's table line, and whether it trained on a CUDA device."""
    metrics = _read(run / "training_metrics.json")
    before, after = (
        _read(run / "eval" / f"{side}.json")["task"]["metrics"]["json_valid"]["score"]
        for side in ("before", "after")
    )
    memory = metrics["memory"]
    per_process = " / ".join(f"{p['peak_memory_mib']:.0f}" for p in memory["per_process"])
    line = (
        f"{case:6} {metrics['processes']:>5} {metrics['bf16_autocast']!s:>5} "
        f"{metrics['loss']['tokens_per_second']:>9.0f} {per_process:>27} "
        f"{100 * before:>18.0f}% -> {100 * after:>3.0f}%  "
        f"{_read(run / 'verdict.json')['verdict']}"
    )
    return line, memory["kind"] == "cuda_max_allocated"


def main(argv: list[str]) -> int:
    out, cases = Path(argv[0]), argv[1:]
    print(HEADER)
    on_gpu = True
    for case in cases:
        runs = sorted(out.glob(f"gpu-check-{case}-*/"))
        if not runs:
            print(f"gpu_check: no run folder for {case} in {out}", file=sys.stderr)
            return 1
        line, cuda = summary_line(case, runs[-1])
        print(line)
        if not cuda:
            print(f"gpu_check: {case} did not train on a CUDA device", file=sys.stderr)
            on_gpu = False
    return 0 if on_gpu else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
