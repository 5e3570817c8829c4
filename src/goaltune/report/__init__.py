"""The run report: `report.html` (one self-contained file) and `report.md`, built from a run
folder's files alone."""

from __future__ import annotations

from pathlib import Path

from goaltune.report.content import build_report
from goaltune.report.inputs import load_run
from goaltune.report.render import render_html, render_markdown
from goaltune.run_folder import RunFolder, atomic_write_text

__all__ = ["build_reports"]


def build_reports(run_dir: Path) -> list[Path]:
    """Write report.html and report.md into the run folder (atomically); returns their paths.

    Missing or unreadable inputs (a train-only run has no eval files or verdict) are reported in
    the affected sections instead of failing.
    """
    folder = RunFolder(Path(run_dir))
    report = build_report(load_run(folder.path))
    outputs = {
        folder.report_html_path: render_html(report),
        folder.report_md_path: render_markdown(report),
    }
    for path, text in outputs.items():
        atomic_write_text(path, text)
    return list(outputs)
