"""How many items `eval.sequential` needs to decide a guard, simulated from a real run's changes.

    .venv/bin/python benchmarks/sequential_items.py docs/run-records/RUN.json
        # -> benchmarks/results/sequential_items.json

The run's guards give the per-item changes (after minus before, paired by id) a real fine-tune
produced. For each benchmark size N (the built-in subsets and the full public test sets) the
script draws N changes from those, with replacement, in many simulated evaluations, scores them
a batch at a time as the after-evaluation does, and records where the confidence sequence
decided the verdict band, and whether that band is the one all N items give. This is a
simulation of larger benchmarks from a small one's changes, not a timed evaluation: an
evaluation's time is close to proportional to the items it scores, so the items are the saving.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, log, machine, write_json

from goaltune.config import Thresholds
from goaltune.deltas import pair_items
from goaltune.evaluate.sequential import ALPHA, decided_band
from goaltune.run_folder import EvalResult, parse_record, read_json

# the benchmark sizes simulated: the built-in guards' and the public test sets' item counts
SIZES = {
    "110 (the built-in guards)": 110,
    "541 (IFEval)": 541,
    "2,376 (ARC-Easy test)": 2376,
    "10,042 (HellaSwag validation)": 10042,
    "14,042 (MMLU test)": 14042,
}


def run_evals(source: Path) -> tuple[EvalResult, EvalResult, str]:
    """eval/before.json and eval/after.json of a run folder or a committed run record."""
    if source.is_dir():
        files = {side: read_json(source / "eval" / f"{side}.json") for side in ("before", "after")}
        name = source.name
    else:
        record = read_json(source)
        files = {side: record["files"][f"eval/{side}.json"] for side in ("before", "after")}
        name = record["run"]
    before, after = (parse_record(EvalResult, files[s], f"{source}: {s}") for s in files)
    return before, after, name


def guard_changes(before: EvalResult, after: EvalResult) -> dict[str, np.ndarray]:
    """Each benchmark's paired per-item changes on its primary metric."""
    changes = {}
    for name, section in before.benchmarks.items():
        if name in after.benchmarks and section.primary_metric:
            pairs = pair_items(section.items, after.benchmarks[name].items, section.primary_metric)
            if pairs:  # a run record keeps summaries only: no items, nothing to draw from
                changes[name] = np.array([p.after - p.before for p in pairs])
    return changes


def _counts(changes: np.ndarray) -> tuple[list[str], list[int]]:
    """The distinct changes and how often each occurred (the whole observed distribution)."""
    values, counts = np.unique(changes, return_counts=True)
    return [str(v) for v in values], [int(c) for c in counts]


def first_decision(changes: np.ndarray, batch: int, thresholds: Thresholds) -> tuple[int, int]:
    """(items scored, band) where a sequential evaluation of `changes` stops; band 0-3, or the
    all-items band when no look decided (items = all)."""
    for end in range(batch, changes.size + batch, batch):
        band = decided_band(changes[:end].tolist(), thresholds)
        if band is not None:
            return min(end, changes.size), band
    return changes.size, thresholds.band(-float(changes.mean()) * 100)


def simulate(
    observed: np.ndarray, size: int, batch: int, runs: int, seed: int, thresholds: Thresholds
) -> dict[str, Any]:
    """Items to decision over `runs` draws of `size` changes, and agreement with all items."""
    rng = np.random.default_rng(seed)
    used, agree, decided = [], 0, 0
    for _ in range(runs):
        changes = rng.choice(observed, size=size, replace=True)
        items, band = first_decision(changes, batch, thresholds)
        used.append(items)
        decided += items < size
        agree += band == thresholds.band(-float(changes.mean()) * 100)
    return {
        "items": size,
        "median_items_scored": statistics.median(used),
        "p90_items_scored": float(np.percentile(used, 90)),
        "share_stopped_early": round(decided / runs, 3),
        "share_same_band_as_all_items": round(agree / runs, 3),
        "median_share_scored": round(statistics.median(used) / size, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder (its eval files hold the items)")
    parser.add_argument("--runs", type=int, default=200, help="simulated evaluations per size")
    parser.add_argument("--batch", type=int, default=64, help="items per look (eval.batch_size)")
    parser.add_argument("--out", type=Path, default=RESULTS / "sequential_items.json")
    args = parser.parse_args()
    before, after, name = run_evals(args.run)
    thresholds = Thresholds()
    guards = {}
    observed_changes = guard_changes(before, after)
    if not observed_changes:
        print(f"{args.run}: no guard with per-item scores on both sides", file=sys.stderr)
        return 2
    for guard, observed in observed_changes.items():
        rows = {}
        for label, size in SIZES.items():
            rows[label] = simulate(observed, size, args.batch, args.runs, size, thresholds)
            log(f"{guard}, {label}: {rows[label]}")
        guards[guard] = {
            "observed_items": int(observed.size),
            "observed_change_points": round(float(observed.mean()) * 100, 2),
            "observed_changed_share": round(float(np.mean(observed != 0)), 3),
            "observed_counts": {
                str(value): int(count)
                for value, count in zip(*np.unique(observed, return_counts=True))
            },
            "sizes": rows,
        }
    report = {
        "command": " ".join(sys.argv),
        "machine": machine(),
        "run": name,
        "alpha": ALPHA,
        "batch": args.batch,
        "runs": args.runs,
        "thresholds": thresholds.model_dump(),
        "guards": guards,
        "load_average_at_end": list(os.getloadavg()),
    }
    log(f"wrote {write_json(args.out, report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
