"""Keep the figures of a run (or a sweep) that the docs quote, as one JSON file.

    python scripts/record_run.py runs/json-api-20261128T205033Z [runs/sweep-... ...]

Run folders stay out of git. What the guides quote from one is gathered into
`docs/run-records/<folder name>.json`: its JSON files by their path in the folder
(`training_metrics.json`, `verdict.json`, `eval/before.json`, ...; for a sweep also `sweep.json`,
`comparison.json` and each run's files under its folder name), with the per-item lists of the
evaluations left out. `tests/test_docs_figures.py` recomputes the quoted figures from them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RECORDS = Path(__file__).resolve().parents[1] / "docs" / "run-records"
SKIPPED_FOLDERS = {"adapter", "checkpoints", "eval-cache", "merged"}


def without_items(data: Any) -> Any:
    """`data` with every per-item list ("items") dropped, at any depth."""
    if isinstance(data, dict):
        return {key: without_items(value) for key, value in data.items() if key != "items"}
    if isinstance(data, list):
        return [without_items(value) for value in data]
    return data


def record(run: Path) -> dict[str, Any]:
    """The JSON files of `run` by relative path, without per-item lists."""
    if not (run / "training_metrics.json").is_file() and not (run / "sweep.json").is_file():
        raise SystemExit(
            f"{run}: neither a run folder (training_metrics.json) nor a sweep folder (sweep.json)"
        )
    files = {}
    for path in sorted(run.rglob("*.json")):
        relative = path.relative_to(run)
        if not SKIPPED_FOLDERS.intersection(relative.parts[:-1]):
            files[relative.as_posix()] = without_items(json.loads(path.read_text()))
    return {"run": run.resolve().name, "files": files}


def main(arguments: list[str]) -> int:
    if not arguments:
        print(__doc__, file=sys.stderr)
        return 2
    RECORDS.mkdir(parents=True, exist_ok=True)
    for name in arguments:
        data = record(Path(name))
        target = RECORDS / f"{data['run']}.json"
        target.write_text(json.dumps(data, indent=1) + "\n")
        print(f"{name} -> {target} ({target.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
