"""Compare runs: `goaltune runs` lists run folders; `goaltune compare` shows what one varied factor
(lora.r, epochs, learning rate, model, data or any config path) changed.

Three layers: `core` reads the runs and pairs them (no rendering), `report` turns a comparison
into report sections and comparison.json, `terminal` prints it and the runs listing. Every figure
is read from the run folders' own files.
"""

from goaltune.compare.core import (
    ComparedRun,
    Comparison,
    Pair,
    compare_runs,
    expand_runs,
    factor_path,
    find_runs,
)
from goaltune.compare.report import (
    comparison_json,
    comparison_report,
    default_out_dir,
    write_comparison,
)
from goaltune.compare.terminal import print_comparison, print_runs

__all__ = [
    "ComparedRun",
    "Comparison",
    "Pair",
    "compare_runs",
    "comparison_json",
    "comparison_report",
    "default_out_dir",
    "expand_runs",
    "factor_path",
    "find_runs",
    "print_comparison",
    "print_runs",
    "write_comparison",
]
