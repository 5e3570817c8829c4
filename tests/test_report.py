"""Tests for the run report (report.html and report.md) built from a synthetic run folder."""

from __future__ import annotations

import base64
import csv
import html
import io
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import pytest
from typer.testing import CliRunner

from goaltune.cli import app
from goaltune.errors import RunError
from goaltune.report import build_reports, content
from goaltune.report.plots import Score, ScoreRow, before_after_png, loss_curve_png, smooth
from tests.conftest import copy_fixture_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHART_IDS = ("chart-task", "chart-benchmarks", "chart-loss")
SCRIPT = '<script>alert("pwned")</script>'


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return copy_fixture_run(tmp_path / "json-api-20261128T160000Z")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(report.html, report.md) of the untouched fixture, built once for the read-only tests."""
    return _build(copy_fixture_run(tmp_path_factory.mktemp("built") / "run"))


def _build(run_dir: Path) -> tuple[str, str]:
    paths = build_reports(run_dir)
    assert paths == [run_dir / "report.html", run_dir / "report.md"]
    return paths[0].read_text(encoding="utf-8"), paths[1].read_text(encoding="utf-8")


def _chart_png(page: str, chart_id: str) -> bytes:
    pattern = rf'<img id="{chart_id}" alt="([^"]+)" src="data:image/png;base64,([^"]+)"'
    match = re.search(pattern, page)
    assert match, f"{chart_id} missing"
    return base64.b64decode(match.group(2), validate=True)


def _items_part(page: str) -> str:
    return page[page.index('<section id="items">') :]


def test_html_shows_verdict_and_reasons(built: tuple[str, str]) -> None:
    page, _ = built
    banner = re.search(r'<div id="verdict" class="verdict good">(.*?)</div></div>', page, re.DOTALL)
    assert banner and "SUCCESS" in banner.group(0) and "with caution" in banner.group(0)
    assert "json_valid rose 70 points; worst guard drop 10 points (within noise)." in page
    assert "Evaluate on more task items (eval.limit) to narrow the intervals." in page


@pytest.mark.parametrize("chart_id", CHART_IDS)
def test_charts_are_inline_pngs(built: tuple[str, str], chart_id: str) -> None:
    png = _chart_png(built[0], chart_id)
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 10_000
    assert matplotlib.image.imread(io.BytesIO(png)).shape[1] > 500


def test_html_is_self_contained(built: tuple[str, str]) -> None:
    page, _ = built
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page and "<link" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(src.startswith("data:image/png;base64,") for src in sources)


def test_sections_follow_the_reading_order(built: tuple[str, str]) -> None:
    page, _ = built
    anchors = [
        'id="verdict"',
        'id="chart-task"',
        'id="chart-benchmarks"',
        'id="chart-loss"',
        'id="diagnosis"',
        'id="cost"',
        'id="setup"',
        'id="items"',
    ]
    positions = [page.index(anchor) for anchor in anchors]
    assert positions == sorted(positions)


def test_tables_show_deltas_findings_and_cost(built: tuple[str, str]) -> None:
    page, _ = built
    assert "+70.0 [+29.8, +100.0]" in page
    assert "95.0% not reached" in page and "90.0% reached" in page
    assert "prompt_level_strict_acc (primary)" in page and "-10.0 [-30.0, +0.0]" in page
    assert "loss_spike" in page and "running_median: 0.78" in page
    assert "2,874.6 MiB (process peak RSS)" in page
    assert "4,884,480 of 139,589,952 (3.50%)" in page
    assert "9f2c4e1ab7d05e3c8a61f0b2d9e4c7a1358b6d02ce9f4a17b3e5d8c60a2f1b94" in page


def test_changed_items_shown_side_by_side(built: tuple[str, str]) -> None:
    items = _items_part(built[0])
    assert "9 of 10 items changed their metrics (8 improved, 1 regressed, 0 mixed)" in items
    assert "json-api-test-0001" in items and "json-api-test-0010" in items
    assert "json-api-test-0004" not in items  # unchanged
    assert items.index("json-api-test-0010") < items.index("json-api-test-0001")  # regression first
    assert items.count('<article class="item">') == 9


def test_changed_items_are_capped(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(content, "MAX_ITEMS", 3)
    page, markdown = _build(run_dir)
    assert _items_part(page).count('<article class="item">') == 3
    assert "and 6 more changed items" in page and "and 6 more changed items" in markdown


def test_text_from_files_is_escaped(built: tuple[str, str]) -> None:
    page, _ = built
    assert SCRIPT not in page
    assert html.escape(SCRIPT) in page


def test_markdown_has_the_tables(built: tuple[str, str]) -> None:
    _, markdown = built
    assert "**Verdict: SUCCESS (with caution)**" in markdown
    assert "| metric | before [95% CI] | after [95% CI] | change, points [95% CI] |" in markdown
    assert (
        "| json_valid | 20.0% [0.0, 50.0] | 90.0% [70.0, 100.0] | +70.0 [+29.8, +100.0] |"
        in markdown
    )
    assert "| builtin:mc-mini | guard | acc (primary) |" in markdown
    assert "| train | 1.9128 | 0.3201 | 0.3159 | 38 |" in markdown
    for heading in (
        "## Task metrics",
        "## Benchmarks",
        "## Loss curve",
        "## Diagnosis",
        "## Cost",
        "## Hyperparameters, data and versions",
        "## Changed task items",
    ):
        assert heading in markdown
    assert "````text\nSure! Here is the JSON" in markdown  # fence longer than the output's ```
    assert "data:image" not in markdown


@pytest.mark.parametrize(
    "removed",
    [
        ("eval/before.json", "eval/after.json", "verdict.json"),
        ("verdict.json",),
        ("eval/after.json",),
        ("loss_history.csv", "training_metrics.json", "config.yaml", "status.json"),
        (
            "config.yaml",
            "status.json",
            "loss_history.csv",
            "training_metrics.json",
            "eval/before.json",
            "eval/after.json",
            "verdict.json",
        ),
    ],
)
def test_missing_files_are_reported_not_fatal(run_dir: Path, removed: tuple[str, ...]) -> None:
    for name in removed:
        (run_dir / name).unlink()
    page, markdown = _build(run_dir)
    assert 'id="verdict"' in page
    for name in removed:
        assert f"{name} is missing" in page or f"{name} (missing)" in page
        assert name in markdown
    if "verdict.json" in removed:
        assert "NO VERDICT" in page
    if "eval/before.json" in removed:
        assert 'id="chart-task"' not in page and 'id="chart-benchmarks"' not in page
    assert ('id="chart-loss"' in page) == ("loss_history.csv" not in removed)


def test_run_without_validation_loss(run_dir: Path) -> None:
    path = run_dir / "loss_history.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "val_loss": ""} for row in rows)
    page, _ = _build(run_dir)
    assert _chart_png(page, "chart-loss").startswith(PNG_SIGNATURE)
    assert "No validation loss was logged" in page


def test_unreadable_file_is_named(run_dir: Path) -> None:
    (run_dir / "verdict.json").write_text("{broken", encoding="utf-8")
    page, _ = _build(run_dir)
    assert "verdict.json is unreadable" in page
    assert 'id="chart-task"' in page


def test_a_run_folder_of_the_previous_version_renders_with_goaltune_report(run_dir: Path) -> None:
    """The fixture's files predate format_version; `goaltune report` still reads every one."""
    assert all("format_version" not in p.read_text() for p in run_dir.rglob("*.json"))
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Not available in the run folder" not in page
    assert all(f'id="{chart_id}"' in page for chart_id in CHART_IDS)
    assert "SUCCESS" in (run_dir / "report.md").read_text(encoding="utf-8")


def test_missing_run_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no such run folder"):
        build_reports(tmp_path / "nope")


def test_reports_are_written_without_leftovers(run_dir: Path) -> None:
    _build(run_dir)
    _build(run_dir)
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")]


def test_loss_curve_overlays_several_runs() -> None:
    runs = {
        f"run {k}": [
            {
                "step": s,
                "train_loss": 2.0 / (s + k),
                "learning_rate": 1e-4,
                "val_loss": 1.0 / s if s % 5 == 0 else None,
            }
            for s in range(1, 30)
        ]
        for k in (1, 2, 3)
    }
    assert loss_curve_png(runs).startswith(PNG_SIGNATURE)
    assert loss_curve_png({"empty": []}).startswith(PNG_SIGNATURE)


def test_before_after_chart_tolerates_gaps() -> None:
    rows = [
        ScoreRow("a", Score(0.2, 0.1, 0.3), Score(0.9, 0.8, 1.0), target=0.95),
        ScoreRow("b", None, Score(0.5)),
        ScoreRow("c", Score(0.4, 0.4, 0.4), None),
    ]
    assert before_after_png(rows, title="scores").startswith(PNG_SIGNATURE)


def test_smoothing_ignores_a_single_spike() -> None:
    assert list(smooth([1.0, 1.0, 9.0, 1.0, 1.0])) == [1.0] * 5
    assert len(smooth([3.0])) == 1


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
    ]
    return subprocess.run(
        [shutil.which("chromium") or "chromium", *flags, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not on PATH")
def test_report_renders_in_a_browser(run_dir: Path, tmp_path: Path) -> None:
    page = (build_reports(run_dir)[0]).as_uri()
    shot = tmp_path / "screenshot.png"
    result = _chromium(f"--screenshot={shot}", "--window-size=1200,3000", page)
    assert shot.is_file(), result.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (3000, 1200)
    assert pixels[..., :3].std() > 0.05  # not blank
    dom = _chromium("--dump-dom", page).stdout
    sources = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", dom)
    assert len(sources) == len(CHART_IDS)
    assert all(src.startswith("data:image/png;base64,") for src in sources)
