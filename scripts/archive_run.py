"""Keep the record of a run (or a sweep) that the docs quote, without its weights.

    python scripts/archive_run.py runs/json-api-20261128T205033Z [runs/sweep-... ...]

Copies the small text files a run leaves behind (config, training_metrics.json, loss_history.csv,
evaluations, verdict, reports as Markdown, sweep and comparison files) into
`docs/runs/<folder name>/`, keeping the layout and leaving out adapters, checkpoints, the
evaluation cache and HTML reports. Every figure the guides quote names one of these folders, and
`tests/test_docs_figures.py` checks the figures against the files.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ARCHIVE = Path(__file__).resolve().parents[1] / "docs" / "runs"
KEPT_SUFFIXES = {".json", ".csv", ".yaml", ".md"}
SKIPPED_FOLDERS = {"adapter", "checkpoints", "eval-cache", "merged"}


def record_files(run: Path) -> list[Path]:
    """The files of `run` worth keeping, relative to it."""
    return sorted(
        path.relative_to(run) for path in run.rglob("*")
        if path.is_file() and path.suffix in KEPT_SUFFIXES
        and not SKIPPED_FOLDERS.intersection(path.relative_to(run).parts[:-1])
    )


def archive(run: Path) -> Path:
    """Copy the record of `run` into docs/runs/<name>/, replacing an older copy."""
    if not (run / "training_metrics.json").is_file() and not (run / "sweep.json").is_file():
        raise SystemExit(f"{run}: neither a run folder (training_metrics.json) nor a sweep "
                         "folder (sweep.json)")
    target = ARCHIVE / run.resolve().name
    if target.exists():
        shutil.rmtree(target)
    for relative in record_files(run):
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(run / relative, target / relative)
    return target


def main(arguments: list[str]) -> int:
    if not arguments:
        print(__doc__, file=sys.stderr)
        return 2
    for name in arguments:
        target = archive(Path(name))
        size = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
        print(f"{name} -> {target} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
