"""`goaltune ui`: the real server over copies of the fixture run, driven by headless Chromium.

The browser tests need Debian's `chromium` and the Playwright package (pointed at that binary,
never `playwright install`); they skip without them. Screenshots of every page go to the test's
artifact folder and, when GOALTUNE_UI_SCREENSHOTS names a folder, there too.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from goaltune.errors import GoaltuneError
from goaltune.run_folder import GoalRow, RunFolder
from tests.conftest import copy_fixture_run, goaltune, write_config

CHROMIUM = shutil.which("chromium")
try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # the dev extra installs it
    sync_playwright = None

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="needs Debian's chromium on PATH and the playwright package (pip install playwright)",
)

LOSS_NAME = RunFolder(Path(".")).loss_history_path.name
LIVE_ROWS = 5  # loss_history.csv rows the running run has when the test starts


# ---------------------------------------------------------------- run folders


def _edit_json(path: Path, change: Any) -> None:
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


def _variant(root: Path, folder: str, verdict: str, loss_scale: float = 1.0, **config: Any) -> Path:
    """A copy of the fixture run with another verdict, its losses scaled and some config keys
    (dotted) changed."""
    run = copy_fixture_run(root / folder)
    history = run / LOSS_NAME
    header, *rows = history.read_text().splitlines()
    columns = header.split(",")
    scaled = []
    for row in rows:
        cells = row.split(",")
        for name in ("train_loss", "val_loss"):
            at = columns.index(name)
            cells[at] = f"{float(cells[at]) * loss_scale:.4f}" if cells[at] else ""
        scaled.append(",".join(cells))
    history.write_text("\n".join([header, *scaled]) + "\n")
    raw = yaml.safe_load((run / "config.yaml").read_text())
    raw["name"] = Path(folder).name
    for key, value in config.items():
        section, name = key.split(".")
        raw[section][name] = value
    (run / "config.yaml").write_text(yaml.safe_dump(raw))
    _edit_json(run / "verdict.json", lambda v: v.update(verdict=verdict))
    return run


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five runs: two finished variants, one in a sweep folder, one training, one corrupted."""
    root = tmp_path_factory.mktemp("runs")
    first = _variant(root, "alpha", "SUCCESS")
    (first / "report.html").write_text("<html><body>report of alpha</body></html>")
    (first / "adapter").mkdir()
    (first / "adapter" / "adapter_config.json").write_text('{"r": 16}')
    RunFolder(first).write_goal_history(
        [
            GoalRow(step=s, epoch=s / 40, tokens_seen=340 * s, elapsed_s=2.8 * s, task=t, guards=g)
            for s, t, g in (
                (0, {"json_valid": 0.2}, {"builtin:mc-mini": 0.58}),
                (20, {"json_valid": 0.7}, {"builtin:mc-mini": 0.5}),
                (40, {"json_valid": 0.9}, {"builtin:mc-mini": 0.5}),
            )
        ]
    )
    _variant(root, "beta", "NEEDS TUNING", 1.3, **{"lora.r": 64, "train.learning_rate": 0.0001})
    _edit_json(
        root / "beta" / "eval" / "after.json",
        lambda a: a["task"]["metrics"]["json_valid"].update(score=0.7),
    )
    _variant(root, "sweep-r/gamma", "PROBLEM", 0.8, **{"lora.r": 4})
    live = _variant(root, "live", "SUCCESS", **{"train.max_steps": 40})
    for name in ("verdict.json", "eval/after.json", "training_metrics.json"):
        (live / name).unlink()
    _edit_json(live / "status.json", lambda s: s.update(status="running"))
    lines = (live / "loss_history.csv").read_text().splitlines()
    (live / "loss_history.csv").write_text("\n".join(lines[: LIVE_ROWS + 1]) + "\n")
    broken = _variant(root, "broken", "SUCCESS")
    (broken / "eval" / "after.json").write_text('{"task": {"metrics": ')
    return root


@pytest.fixture(scope="module")
def digest_before(runs_root: Path) -> dict[str, str]:
    return _tree_digest(runs_root)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_ui(*args: str) -> tuple[subprocess.Popen[str], str]:
    """`goaltune ui ARGS` in a subprocess; returns it and the first line it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "goaltune", "ui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stdout is not None
    return process, process.stdout.readline()


def _wait_until_up(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "goaltune ui exited early"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("goaltune ui did not start listening")


@pytest.fixture(scope="module")
def server(runs_root: Path, digest_before: dict[str, str]) -> Iterator[str]:
    """The dashboard over the fixture runs, as a user starts it; yields its base URL."""
    port = _free_port()
    process, first_line = _start_ui(str(runs_root), "--port", str(port))
    try:
        _wait_until_up(port, process)
        assert f"http://127.0.0.1:{port}/" in first_line
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert sync_playwright is not None and CHROMIUM is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Where screenshots go: the test's artifact folder, and GOALTUNE_UI_SCREENSHOTS if set."""
    folders = [tmp_path_factory.mktemp("ui-screenshots")]
    if os.environ.get("GOALTUNE_UI_SCREENSHOTS"):
        folders.append(Path(os.environ["GOALTUNE_UI_SCREENSHOTS"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def _screenshot(page: Page, shots: list[Path], name: str) -> None:
    for folder in shots:
        # the run page is long: its top (verdict, curves, scores) shows what it is about
        clip = {"x": 0, "y": 0, "width": 1400, "height": 1350} if name == "run" else None
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True, clip=clip)
        assert (folder / f"{name}.png").stat().st_size > 10_000


def _visible_names(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#runs tbody tr:not([hidden]) td:nth-child(2) a", "links => links.map(a => a.textContent)"
    )


# ---------------------------------------------------------------- the pages


@needs_browser
def test_runs_page_lists_every_run_with_its_verdict(
    server: str, runs_root: Path, page: Page, shots: list[Path]
) -> None:
    page.goto(server + "/")
    rows = page.locator("#runs tbody tr")
    assert rows.count() == 5
    shown = {
        row.locator("td:nth-child(2) a").inner_text(): row.locator("td.verdict .badge").inner_text()
        for row in rows.all()
    }
    expected = {}
    for run in ("alpha", "beta", "sweep-r/gamma", "live", "broken"):
        folder = RunFolder(runs_root / run)
        verdict = folder.read_verdict().verdict if folder.verdict_path.is_file() else "-"
        expected[Path(run).name] = verdict
    assert shown == expected
    live = page.locator("tr[data-id='0/live'] td.status").inner_text()
    assert live == f"running: step {LIVE_ROWS}, ETA " + live.split("ETA ")[1]
    broken = page.locator("tr[data-id='0/broken']").inner_text()
    assert "eval/after.json" in broken and "unreadable" in broken
    _screenshot(page, shots, "runs")


@needs_browser
def test_sorting_and_filtering_change_the_visible_rows(server: str, page: Page) -> None:
    page.goto(server + "/")
    page.click("#runs thead th:nth-child(5)")  # the lora.r column
    ranks = page.eval_on_selector_all(
        "#runs tbody tr td:nth-child(5)", "cells => cells.map(c => Number(c.textContent))"
    )
    assert ranks == sorted(ranks) and ranks[0] == 4 and ranks[-1] == 64
    page.click("#runs thead th:nth-child(5)")
    ranks = page.eval_on_selector_all(
        "#runs tbody tr td:nth-child(5)", "cells => cells.map(c => Number(c.textContent))"
    )
    assert ranks == sorted(ranks, reverse=True)

    page.fill("#filter-text", "gamma")
    assert _visible_names(page) == ["gamma"]
    page.fill("#filter-text", "")
    page.select_option("#filter-verdict", "NEEDS TUNING")
    assert _visible_names(page) == ["beta"]
    page.select_option("#filter-verdict", "")
    page.select_option("#filter-status", "running")
    assert _visible_names(page) == ["live"]
    assert page.inner_text("#row-count") == "1 of 5 runs"


@needs_browser
def test_compare_page_overlays_the_selected_runs(
    server: str, page: Page, shots: list[Path]
) -> None:
    page.goto(server + "/")
    for run_id in ("0/alpha", "0/beta", "0/sweep-r/gamma"):
        page.check(f"input.pick[value='{run_id}']")
    page.click("#compare-button")
    page.wait_for_url("**/compare?**")
    series = page.locator("#compare-chart path.series")
    series.first.wait_for()
    labels = [s.get_attribute("data-label") for s in series.all()]
    # each run has a train and a validation curve
    assert sorted(labels) == sorted(
        f"{run} {kind}" for run in ("alpha", "beta", "gamma") for kind in ("train", "validation")
    )
    assert {s.get_attribute("data-points") for s in series.all()} == {"40", "4"}
    page.check("input[value=tokens_seen]")
    assert page.locator("#compare-chart path.series").count() == 6
    assert "tokens seen" in page.inner_text("#compare-chart")
    differing = page.inner_text("#differing")
    assert "lora.r" in differing and "train.learning_rate" in differing
    _screenshot(page, shots, "compare")

    page.select_option("#group-by", "lora.r")
    page.wait_for_url("**group_by=lora.r**")
    confound = page.locator(".confound").all_inner_texts()
    assert confound == ["confounded: beta vs gamma also differ in train.learning_rate"]


@needs_browser
def test_run_page_shows_the_evidence_and_downloads(
    server: str, runs_root: Path, page: Page, shots: list[Path]
) -> None:
    page.goto(server + "/run/0/alpha")
    assert page.locator("#run-errors").count() == 0
    assert page.inner_text("#verdict .badge") == "SUCCESS"
    verdict = RunFolder(runs_root / "alpha").read_verdict()
    assert verdict.headline in page.inner_text("#verdict")
    scores = page.inner_text("#scores")
    assert "+70.0 [29.8, 100.0]" in scores and "95.0% not reached" in scores
    page.locator("#loss-chart path.series").first.wait_for()  # drawn from the JSON it fetches
    assert page.locator("#loss-chart path.series").count() == 2
    goal = page.locator("#goal-chart path.series")
    assert [
        (g.get_attribute("data-label"), g.get_attribute("data-points")) for g in goal.all()
    ] == [
        ("task: json_valid", "3"),
        ("guard: builtin:mc-mini", "3"),
    ]
    assert "loss_spike" not in page.inner_text("#diagnosis")  # the message, not the kind
    assert "Train loss spiked at step 17" in page.inner_text("#diagnosis")

    all_items = page.locator("#item-table tbody tr:not([hidden])").count()
    page.click("#item-filters button[data-change=worse]")
    worse = page.locator("#item-table tbody tr:not([hidden])")
    assert 0 < worse.count() < all_items
    assert {r.get_attribute("data-change") for r in worse.all()} == {"worse"}
    page.click("#item-filters button[data-change=better]")
    better = page.locator("#item-table tbody tr:not([hidden])")
    assert {r.get_attribute("data-change") for r in better.all()} == {"better"}

    link = page.locator("#downloads a", has_text="report.html")
    with page.expect_navigation():
        link.click()
    assert "report of alpha" in page.content()
    page.goto(server + "/run/0/alpha")
    page.locator("#goal-chart path.series").first.wait_for()
    _screenshot(page, shots, "run")


@needs_browser
def test_the_loss_curve_of_a_training_run_grows_without_reload(
    server: str, runs_root: Path, page: Page, shots: list[Path]
) -> None:
    history = runs_root / "live" / "loss_history.csv"
    full = json.loads((Path(__file__).parent / "fixtures" / "run_folder.json").read_text())
    rows = full["loss_history.csv"].splitlines()[1:]
    page.goto(server + "/run/0/live")
    chart = page.locator("#loss-chart")
    page.wait_for_function(f"document.querySelector('#loss-chart').dataset.points == {LIVE_ROWS}")
    page.evaluate("window.notReloaded = true")
    with history.open("a") as handle:  # training logs ten more steps
        handle.write("\n".join(rows[LIVE_ROWS : LIVE_ROWS + 10]) + "\n")
    page.wait_for_function(
        f"document.querySelector('#loss-chart').dataset.points == {LIVE_ROWS + 10}", timeout=10_000
    )
    train = chart.locator("path.series").first
    assert train.get_attribute("data-points") == str(LIVE_ROWS + 10)
    assert page.evaluate("window.notReloaded") is True
    assert page.inner_text("#status").startswith(f"running: step {LIVE_ROWS + 10}")
    _screenshot(page, shots, "run-live")


@needs_browser
def test_a_corrupted_eval_file_shows_an_error_on_that_run_only(
    server: str, runs_root: Path, page: Page, shots: list[Path]
) -> None:
    page.goto(server + "/run/0/broken")
    error = page.inner_text("#run-errors")
    assert "eval/after.json" in error and "not valid JSON" in error
    assert page.inner_text("#verdict .badge") == "SUCCESS"  # what could be read is shown
    page.locator("#loss-chart svg").wait_for()
    _screenshot(page, shots, "run-broken")
    for other in ("/run/0/beta", "/run/0/sweep-r/gamma", "/compare?run=0/alpha&run=0/beta"):
        response = page.goto(server + other)
        assert response is not None and response.status == 200
        assert page.locator("#run-errors").count() == 0


@needs_browser
@pytest.mark.integration
def test_the_run_page_follows_a_real_training_run(
    tmp_path: Path, tiny_model_dir: Path, page: Page, shots: list[Path]
) -> None:
    """`goaltune train` on the tiny model while the run page is open: the curve gains points."""
    steps = 300
    config = write_config(
        tmp_path,
        tiny_model_dir,
        train={"max_steps": steps, "per_device_train_batch_size": 4, "eval_steps": 100},
    )
    runs = tmp_path / "runs"
    runs.mkdir()
    port = _free_port()
    server, _ = _start_ui(str(runs), "--port", str(port))
    training = goaltune("train", str(config), "--quiet")
    try:
        _wait_until_up(port, server)
        deadline = time.monotonic() + 60
        while not any(p.joinpath(LOSS_NAME).is_file() for p in runs.glob("*/")):
            assert time.monotonic() < deadline and training.poll() is None, "training never logged"
            time.sleep(0.2)
        (run_dir,) = runs.iterdir()
        page.goto(f"http://127.0.0.1:{port}/run/0/{run_dir.name}")
        page.evaluate("window.notReloaded = true")
        page.wait_for_function("document.querySelector('#loss-chart').dataset.points > 0")
        first = int(page.get_attribute("#loss-chart", "data-points") or 0)
        assert first < steps, "training finished before the page could watch it"
        page.wait_for_function(
            f"document.querySelector('#loss-chart').dataset.points > {first}", timeout=60_000
        )
        assert training.wait(timeout=120) == 0
        page.wait_for_function(
            f"document.querySelector('#loss-chart').dataset.points == {steps}", timeout=10_000
        )
        assert page.evaluate("window.notReloaded") is True
        assert page.inner_text("#status") == "finished"
        _screenshot(page, shots, "run-trained")
    finally:
        for process in (training, server):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)


# ---------------------------------------------------------------- HTTP only (no browser needed)


def _get(server: str, path: str) -> tuple[int, bytes]:
    """GET a raw path, sent exactly as written (no client-side normalising of '..')."""
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


@pytest.mark.parametrize(
    "path",
    [
        "/run/0/../../etc/passwd",
        "/run/0/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/run/0/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
        "/run/..%2f..%2f..%2fetc",
        "/run/1/alpha",
        "/api/run/0/..%2f..%2f..%2f..%2fetc",
        "/file/0/alpha?name=../../../../etc/passwd",
        "/file/0/alpha?name=%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/file/0/alpha?name=/etc/passwd",
        "/file/0/alpha?name=config.yaml",
        "/file/0/alpha?name=adapter/../config.yaml",
        "/static/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/%2e%2e/ui/app.py",
        "/compare?run=0/alpha&run=0/../../etc",
    ],
)
def test_paths_outside_the_run_folders_are_not_found(server: str, path: str) -> None:
    status, body = _get(server, path)
    assert status == 404
    assert b"root:" not in body and b"create_app" not in body


def test_the_downloads_the_run_page_links_are_served(server: str) -> None:
    assert _get(server, "/file/0/alpha?name=report.html") == (
        200,
        b"<html><body>report of alpha</body></html>",
    )
    assert _get(server, "/file/0/alpha?name=adapter%2Fadapter_config.json") == (200, b'{"r": 16}')


def test_a_run_deleted_while_the_server_runs_is_not_found_and_others_still_work(
    server: str, runs_root: Path
) -> None:
    doomed = copy_fixture_run(runs_root / "doomed")
    assert _get(server, "/run/0/doomed")[0] == 200
    shutil.rmtree(doomed)
    assert _get(server, "/run/0/doomed")[0] == 404
    status, body = _get(server, "/")
    assert status == 200 and b"doomed" not in body and b"alpha" in body


def test_the_dashboard_writes_nothing_into_the_run_folders(
    server: str, runs_root: Path, digest_before: dict[str, str]
) -> None:
    for path in (
        "/",
        "/run/0/alpha",
        "/run/0/broken",
        "/api/run/0/alpha",
        "/compare?run=0/alpha&run=0/beta",
    ):
        assert _get(server, path)[0] == 200
    after = _tree_digest(runs_root)
    changed = {
        k for k in after.keys() | digest_before.keys() if after.get(k) != digest_before.get(k)
    }
    # only the file the live-run test appended to (as training would) may differ
    assert changed <= {"live/loss_history.csv"}


def test_one_run_folder_on_another_host_warns_and_is_served(runs_root: Path) -> None:
    port = _free_port()
    run = runs_root / "sweep-r" / "gamma"
    process, first_line = _start_ui(str(run), "--host", "0.0.0.0", "--port", str(port))
    try:
        assert "no authentication" in first_line
        _wait_until_up(port, process)
        server = f"http://127.0.0.1:{port}"
        status, body = _get(server, "/")
        assert status == 200 and body.count(b'class="run"') == 1 and b"gamma" in body
        assert _get(server, "/run/0")[0] == 200
        assert _get(server, "/run/0/..")[0] == 404
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_missing_web_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from goaltune import ui

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "uvicorn" else real(name)
    )
    with pytest.raises(GoaltuneError, match=r"needs uvicorn: pip install 'goaltune\[ui\]'"):
        ui.require_ui_extra()
