"""`goaltune sweep --backend ray` on a tiny random model, with a local Ray instance of 2 CPUs: the
same runs as the local backend, the base evaluated once, and a run whose Ray worker is SIGKILLed
finishes (Ray starts the task again and the run resumes from its checkpoint)."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import torch
import yaml
from typer.testing import CliRunner

from goaltune.cli import app
from goaltune.sweep import _worker_init, visible_gpus
from tests.conftest import goaltune
from tests.test_missing_packages import assert_one_line, goaltune_without
from tests.test_sweep import one_thread, tiny_setup

__all__ = ["one_thread"]  # the module-wide fixture of test_sweep: one torch thread here too
GRID = ["--grid", "lora.r=2,4"]
LOSS_TOLERANCE = 1e-5


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def runs_by_name(sweep_dir: Path) -> dict[str, Path]:
    return {e["name"]: sweep_dir / e["run_dir"] for e in read(sweep_dir / "sweep.json")["runs"]}


def losses(run_dir: Path) -> list[tuple[int, float]]:
    rows = csv.DictReader((run_dir / "loss_history.csv").open())
    return [(int(row["step"]), float(row["train_loss"])) for row in rows]


def evaluation(run_dir: Path, side: str) -> dict[str, Any]:
    """Per-item outputs and scores and the summaries of eval/SIDE.json (no timings)."""
    result = read(run_dir / "eval" / f"{side}.json")
    return {
        "task": {key: result["task"][key] for key in ("items", "metrics")},
        "benchmarks": {
            spec: {key: bench[key] for key in ("items", "metrics")}
            for spec, bench in result["benchmarks"].items()
        },
    }


def comparison_figures(sweep_dir: Path) -> dict[str, Any]:
    """comparison.json without paths, times and costs."""
    comparison = read(sweep_dir / "comparison.json")
    keep = ("label", "status", "verdict", "factor_value", "task", "benchmarks", "deltas", "flips")
    return {
        "runs": [{key: run[key] for key in keep} for run in comparison["runs"]],
        "changes": [
            (c["run"], c["reference"], c["changes_points"]) for c in comparison["comparisons"]
        ],
    }


def ray_sweep(config: Path, out: Path, *more: str) -> tuple[int, str]:
    process = goaltune("sweep", str(config), *GRID, "--out", str(out), *more)
    output, _ = process.communicate(timeout=600)
    return process.returncode, output


@pytest.mark.integration
def test_ray_backend_without_ray_names_the_extra(
    tmp_path: Path, tiny_model_and_tokenizer: Any
) -> None:
    config = tiny_setup(tmp_path, tiny_model_and_tokenizer)
    args = ["sweep", str(config), *GRID, "--out", str(tmp_path / "sweep"), "--backend", "ray"]
    result = goaltune_without(tmp_path, ["ray"], *args)
    assert_one_line(result, "goaltune sweep --backend ray needs ray: pip install 'goaltune[ray]'")
    assert not (tmp_path / "sweep").exists()  # refused before the sweep folder was made


@pytest.mark.integration
def test_ray_address_without_a_cluster_is_one_line(
    tmp_path: Path, tiny_model_and_tokenizer: Any
) -> None:
    pytest.importorskip("ray")
    config = tiny_setup(tmp_path, tiny_model_and_tokenizer)
    args = [*GRID, "--out", str(tmp_path / "sweep"), "--backend", "ray", "--address", "auto"]
    result = CliRunner().invoke(app, ["sweep", str(config), *args])
    assert result.exit_code == 2, result.output
    assert "error: --address auto: Could not find any running Ray instance" in result.output


@pytest.mark.extended  # starts a local Ray instance (two workers) after a local sweep
def test_ray_backend_gives_the_runs_of_the_local_backend(
    tmp_path: Path, tiny_model_and_tokenizer: Any
) -> None:
    pytest.importorskip("ray")
    config = tiny_setup(tmp_path, tiny_model_and_tokenizer)
    local = CliRunner().invoke(
        app, ["sweep", str(config), *GRID, "--out", str(tmp_path / "local"), "-q"]
    )
    assert local.exit_code == 0, local.output
    code, output = ray_sweep(config, tmp_path / "ray", "--backend", "ray", "--jobs", "2", "-q")
    assert code == 0, output

    assert "1 computed, 1 reused" in output and output.count("submitted to Ray") == 2
    state = read(tmp_path / "ray" / "sweep.json")
    assert (
        state["status"] == "finished" and [e["status"] for e in state["runs"]] == ["finished"] * 2
    )
    assert len(list((tmp_path / "ray" / "eval-cache").glob("*.json"))) == 1
    mine, theirs = runs_by_name(tmp_path / "ray"), runs_by_name(tmp_path / "local")
    assert list(mine) == list(theirs) == ["tiny-r2", "tiny-r4"]
    for name, run_dir in mine.items():
        expected = losses(theirs[name])
        got = losses(run_dir)
        assert [step for step, _ in got] == [step for step, _ in expected]
        assert max(abs(a - b) for (_, a), (_, b) in zip(got, expected)) <= LOSS_TOLERANCE
        for side in ("before", "after"):
            assert evaluation(run_dir, side) == evaluation(theirs[name], side), (name, side)
        assert (
            read(run_dir / "verdict.json")["verdict"]
            == read(theirs[name] / "verdict.json")["verdict"]
        )
    assert comparison_figures(tmp_path / "ray") == comparison_figures(tmp_path / "local")


def run_workers() -> list[psutil.Process]:
    """The Ray worker processes running a sweep run now (Ray titles them after the task)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline and cmdline[0].startswith("ray::run_point"):
            found.append(process)
    return found


@pytest.mark.extended
def test_a_killed_ray_worker_is_retried_and_every_run_finishes(
    tmp_path: Path, tiny_model_and_tokenizer: Any
) -> None:
    pytest.importorskip("ray")
    steps = 300
    config = tiny_setup(tmp_path, tiny_model_and_tokenizer)
    raw = yaml.safe_load(config.read_text())
    raw["train"].update(max_steps=steps, save_steps=20, eval_steps=150)
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "sweep"
    process = goaltune(
        "sweep", str(config), *GRID, "--out", str(out), "--backend", "ray", "--jobs", "2", "-q"
    )
    killed_at, deadline = None, time.time() + 300
    while killed_at is None and time.time() < deadline and process.poll() is None:
        histories = list(out.glob("tiny-r2-*/loss_history.csv"))
        rows = sum(1 for _ in histories[0].open()) - 1 if histories else 0
        workers = run_workers()
        if rows > 40 and workers:
            workers[0].send_signal(signal.SIGKILL)
            killed_at = rows
        time.sleep(0.05)
    output, _ = process.communicate(timeout=600)
    assert killed_at is not None and killed_at < steps, f"no worker killed mid-run:\n{output}"
    assert process.returncode == 0, output
    assert "1 computed, 1 reused" in output  # the killed run's evaluation counted once

    state = read(out / "sweep.json")
    assert (
        state["status"] == "finished" and [e["status"] for e in state["runs"]] == ["finished"] * 2
    )
    for run_dir in runs_by_name(out).values():
        assert [step for step, _ in losses(run_dir)] == list(range(1, steps + 1))
        assert read(run_dir / "status.json")["status"] == "finished"
        assert (run_dir / "adapter").is_dir() and (run_dir / "verdict.json").is_file()
    assert len(list((out / "eval-cache").glob("*.json"))) == 1  # the base evaluated once


def test_local_workers_are_pinned_to_gpus_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    started, threads = multiprocessing.get_context("spawn").Value("i", 0), torch.get_num_threads()
    pinned = []
    for _ in range(3):  # what three workers' initializers do, one after another
        _worker_init(threads, started, ["3", "5"])
        pinned.append(os.environ["CUDA_VISIBLE_DEVICES"])
    assert pinned == ["3", "5", "3"] and started.value == 3
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    _worker_init(threads, started, [])  # no GPUs: nothing pinned, nothing counted
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "7" and started.value == 3
    if not torch.cuda.is_available():
        assert visible_gpus() == []
