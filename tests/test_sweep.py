"""`goaltune sweep` on a tiny random model: grid, shared before-eval, resume, comparison."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import goaltune.pipeline
from goaltune.cli import app
from goaltune.errors import ConfigError
from goaltune.format import score_text
from goaltune.run_folder import ScoreSummary
from goaltune.sweep import expand_grid, parse_grid, run_name
from tests.conftest import build_tiny_model, write_config

GRID = ["--grid", "lora.r=2,4", "--grid", "num_train_epochs=1,2"]
CHART_IDS = ("chart-task", "chart-benchmarks", "chart-loss")


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny matrices run far faster on one thread than on two contended cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_setup(folder: Path, tiny_model_and_tokenizer: Any) -> Path:
    """A tiny model folder and a sweep-ready config (a guard benchmark, a short eval)."""
    _, tokenizer = tiny_model_and_tokenizer
    build_tiny_model(tokenizer).save_pretrained(folder / "tiny-model")
    tokenizer.save_pretrained(folder / "tiny-model")
    return write_config(
        folder,
        folder / "tiny-model",
        train={
            "per_device_train_batch_size": 8,
            "learning_rate": 1e-2,
            "eval_steps": 2,
            "bf16": False,
        },
        eval={
            "metrics": ["exact_match", "contains"],
            "max_new_tokens": 4,
            "bootstrap_resamples": 100,
            "benchmarks": ["builtin:mc-mini"],
            "benchmark_limit": 2,
        },
    )


def spy_evaluations(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Count evaluate_model calls by label (before / after)."""
    calls: Counter = Counter()
    real = goaltune.pipeline.evaluate_model

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls[kwargs["label"]] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(goaltune.pipeline, "evaluate_model", spy)
    return calls


@pytest.fixture(scope="module")
def swept(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_and_tokenizer: Any
) -> tuple[Path, Counter, str]:
    """(sweep folder, evaluate_model calls by label, CLI output) of one 2x2 sweep."""
    folder = tmp_path_factory.mktemp("sweep")
    config = tiny_setup(folder, tiny_model_and_tokenizer)
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls = spy_evaluations(monkeypatch)
        result = CliRunner().invoke(
            app, ["sweep", str(config), *GRID, "--out", str(folder / "sweep"), "-q"]
        )
    assert result.exit_code == 0, result.output
    return folder / "sweep", calls, result.output


def sweep_runs(sweep_dir: Path) -> list[Path]:
    state = json.loads((sweep_dir / "sweep.json").read_text())
    return [sweep_dir / entry["run_dir"] for entry in state["runs"]]


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def test_grid_parses_short_keys_and_expands_cartesian() -> None:
    grid = parse_grid(["lora.r=8,16,64", "num_train_epochs=1,3", "learning_rate=1e-4,2.0e-4"])
    # YAML reads 1e-4 (no dot) as text; the config validation coerces it to a number
    assert grid == {
        "lora.r": [8, 16, 64],
        "train.num_train_epochs": [1, 3],
        "train.learning_rate": ["1e-4", 2.0e-4],
    }
    points = expand_grid({"lora.r": [8, 16, 64], "train.num_train_epochs": [1, 3]})
    assert len(points) == 6
    assert points[:3] == [
        {"lora.r": 8, "train.num_train_epochs": 1},
        {"lora.r": 8, "train.num_train_epochs": 3},
        {"lora.r": 16, "train.num_train_epochs": 1},
    ]
    assert run_name("json-api", points[1]) == "json-api-r8-num_train_epochs3"
    for bad in (["lora.r"], ["lora.r=8", "r=16"], ["nope=1,2"], []):
        with pytest.raises(ConfigError):
            parse_grid(bad)


@pytest.mark.integration
def test_sweep_runs_every_point_and_evaluates_the_base_once(
    swept: tuple[Path, Counter, str],
) -> None:
    sweep_dir, calls, output = swept
    state = read(sweep_dir / "sweep.json")
    assert state["status"] == "finished" and len(state["runs"]) == 4
    assert [e["overrides"] for e in state["runs"]] == expand_grid(
        {"lora.r": [2, 4], "train.num_train_epochs": [1, 2]}
    )
    assert calls == {"before": 1, "after": 4}
    assert "1 computed, 3 reused" in output
    befores = [read(run / "eval" / "before.json") for run in sweep_runs(sweep_dir)]
    assert [b["eval_cache"]["hit"] for b in befores] == [False, True, True, True]
    assert len({b["eval_cache"]["key_sha256"] for b in befores}) == 1
    assert all(
        {k: v for k, v in b.items() if k != "eval_cache"}
        == {k: v for k, v in befores[0].items() if k != "eval_cache"}
        for b in befores
    )
    (entry,) = (sweep_dir / "eval-cache").iterdir()
    assert read(entry)["key"]["eval"]["benchmarks"] == ["builtin:mc-mini"]
    for run, planned in zip(sweep_runs(sweep_dir), state["runs"]):
        assert read(run / "status.json")["status"] == "finished"
        assert run.parent == sweep_dir and planned["status"] == "finished"
        metrics = read(run / "training_metrics.json")
        assert metrics["hyperparameters"]["r"] == planned["overrides"]["lora.r"]


@pytest.mark.integration
def test_sweep_comparison_figures_equal_the_run_files(swept: tuple[Path, Counter, str]) -> None:
    sweep_dir, _, output = swept
    comparison = read(sweep_dir / "comparison.json")
    markdown = (sweep_dir / "comparison.md").read_text()
    assert comparison["group_by"] == "lora.r"
    assert comparison["differing_keys"] == ["lora.r", "train.num_train_epochs"]
    for run_dir, shown in zip(sweep_runs(sweep_dir), comparison["runs"]):
        before = read(run_dir / "eval" / "before.json")
        after = read(run_dir / "eval" / "after.json")
        verdict, metrics = read(run_dir / "verdict.json"), read(run_dir / "training_metrics.json")
        assert shown["run_dir"] == str(run_dir) and shown["verdict"] == verdict["verdict"]
        assert shown["deltas"] == verdict["deltas"]
        for metric, entry in after["task"]["metrics"].items():
            assert shown["task"][metric] == {
                "before": before["task"]["metrics"][metric],
                "after": entry,
            }
            old = ScoreSummary.model_validate(before["task"]["metrics"][metric])
            row = f"| {metric} | {shown['label']} | {score_text(old)}"
            assert f"{row} | {score_text(ScoreSummary.model_validate(entry))} |" in markdown
        bench = shown["benchmarks"]["builtin:mc-mini"]
        assert bench["after"] == after["benchmarks"]["builtin:mc-mini"]["metrics"]["acc"]
        assert shown["cost"]["train_time_s"] == metrics["train_time_s"]
        assert shown["cost"]["peak_memory_mib"] == metrics["memory"]["peak_memory_mib"]
        assert shown["cost"]["trainable_parameters"] == metrics["model"]["parameters"]["trainable"]
    first, second = comparison["runs"][0], comparison["runs"][2]
    pair = comparison["comparisons"][0]
    assert (pair["run"], pair["reference"]) == (second["label"], first["label"])
    expected = round(
        100
        * (
            second["task"]["exact_match"]["after"]["score"]
            - first["task"]["exact_match"]["after"]["score"]
        ),
        4,
    )
    assert pair["changes_points"]["exact_match"] == expected and pair["confounded_by"] == {}
    assert pair["summary"].startswith("lora.r 4 vs 2 (at train.num_train_epochs=1): ")
    assert pair["summary"] in markdown and "lora.r 4 vs 2" in output


@pytest.mark.integration
def test_comparison_html_is_self_contained_with_charts(swept: tuple[Path, Counter, str]) -> None:
    page = (swept[0] / "comparison.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    for chart in CHART_IDS:
        assert f'<img id="{chart}"' in page
    sources = re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', page)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not on PATH")
def test_comparison_renders_in_a_browser(swept: tuple[Path, Counter, str]) -> None:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--dump-dom",
    ]
    page = (swept[0] / "comparison.html").as_uri()
    dom = subprocess.run(
        [shutil.which("chromium") or "chromium", *flags, page],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    sources = re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', dom)
    assert len(sources) == len(CHART_IDS), dom[-2000:]
    assert all(src.startswith("data:image/png;base64,") for src in sources)


@pytest.mark.integration
def test_interrupted_sweep_resumes_and_skips_finished_runs(
    tmp_path: Path, tiny_model_and_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_setup(tmp_path, tiny_model_and_tokenizer)
    out = tmp_path / "sweep"
    args = ["sweep", str(config), "--grid", "lora.r=2,4", "--out", str(out), "-q"]
    real_train = goaltune.pipeline.train_run
    trained: list[str] = []

    def interrupt_second(config: Any, *rest: Any, **kwargs: Any) -> Any:
        trained.append(config.name)
        if len(trained) == 2:
            raise KeyboardInterrupt
        return real_train(config, *rest, **kwargs)

    monkeypatch.setattr(goaltune.pipeline, "train_run", interrupt_second)
    stopped = CliRunner().invoke(app, args)
    assert stopped.exit_code == 130, stopped.output
    assert f"goaltune sweep --resume {out}" in " ".join(stopped.output.split())
    first, second = sweep_runs(out)
    assert read(out / "sweep.json")["status"] == "interrupted"
    assert [read(run / "status.json")["status"] for run in (first, second)] == [
        "finished",
        "interrupted",
    ]
    finished_at = (first / "verdict.json").stat().st_mtime_ns

    monkeypatch.setattr(goaltune.pipeline, "train_run", real_train)
    calls = spy_evaluations(monkeypatch)
    resumed = CliRunner().invoke(app, args)  # the same --out continues the sweep
    assert resumed.exit_code == 0, resumed.output
    assert "finished earlier, skipped" in resumed.output
    assert calls == {"after": 1}  # run 2 kept its before-eval; run 1 was not touched
    assert (first / "verdict.json").stat().st_mtime_ns == finished_at
    assert sweep_runs(out) == [first, second]
    assert read(second / "status.json")["status"] == "finished"
    assert read(out / "sweep.json")["status"] == "finished"
    assert (out / "comparison.html").is_file()

    again = CliRunner().invoke(app, ["sweep", "--resume", str(out), "-q"])
    assert again.exit_code == 0 and again.output.count("finished earlier, skipped") == 2
    other = CliRunner().invoke(app, ["sweep", str(config), "--grid", "lora.r=8", "--out", str(out)])
    assert other.exit_code == 2 and "holds a different sweep" in other.output


@pytest.mark.integration
def test_parallel_sweep_evaluates_the_base_once(
    tmp_path: Path, tiny_model_and_tokenizer: Any
) -> None:
    config = tiny_setup(tmp_path, tiny_model_and_tokenizer)
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        app,
        ["sweep", str(config), "--grid", "lora.r=2,4,8", "--out", str(out), "--jobs", "2", "-q"],
    )
    assert result.exit_code == 0, result.output
    assert "1 computed, 2 reused" in result.output
    assert result.output.count("started in a worker") == 3
    state = read(out / "sweep.json")
    assert state["status"] == "finished"
    assert [e["status"] for e in state["runs"]] == ["finished"] * 3
    befores = [read(run / "eval" / "before.json") for run in sweep_runs(out)]
    assert [b["eval_cache"]["hit"] for b in befores] == [False, True, True]
    ranks = [read(run / "training_metrics.json")["hyperparameters"]["r"] for run in sweep_runs(out)]
    assert ranks == [2, 4, 8]
    assert (out / "comparison.html").is_file()
