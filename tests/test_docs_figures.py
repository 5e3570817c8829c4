"""Figures quoted in the README and the guides come from the run records named next to them.

`scripts/record_run.py` keeps the JSON files of each quoted run in `docs/run-records/<run>.json`
(run folders themselves stay out of git). These tests check that every run folder the docs name
has its record, and recompute the quoted figures from it: a figure edited by hand, or a run
replaced without updating the text, fails here.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "docs" / "run-records"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_NAME = re.compile(r"\b(?:runs/)?([a-z][\w.-]*-\d{8}T\d{6}Z|sweep-[a-z][\w-]*[a-z])\b")

DEMO = "json-api-20261202T175344Z"
DOMAIN = "domain-mc-20261128T192054Z"
SWEEP = "sweep-rank-epochs"


@cache
def records() -> dict[str, Any]:
    """Every kept file, by its path: '<record>/<path in the run folder>'."""
    files = {}
    for path in RECORDS.glob("*.json"):
        for name, data in json.loads(path.read_text())["files"].items():
            files[f"{path.stem}/{name}"] = data
    return files


def load(run: str, name: str) -> Any:
    """File `name` of the one kept run whose folder name starts with `run`."""
    pattern = re.compile(rf"(?:.*/)?{re.escape(run)}[^/]*/{re.escape(name)}")
    matches = [path for path in records() if pattern.fullmatch(path)]
    assert len(matches) == 1, f"expected one {name} for run {run} in {RECORDS}, found {matches}"
    return records()[matches[0]]


def task_score(run: str, stage: str, metric: str) -> float:
    return load(run, f"eval/{stage}.json")["task"]["metrics"][metric]["score"]


def benchmark_score(run: str, stage: str, benchmark: str) -> float:
    result = load(run, f"eval/{stage}.json")["benchmarks"][benchmark]
    return result["metrics"][result["primary_metric"]]["score"]


def delta(run: str, name: str) -> dict[str, Any]:
    return next(d for d in load(run, "verdict.json")["deltas"] if d["name"] == name)


def pct(score: float, digits: int = 1) -> str:
    return f"{100 * score:.{digits}f}%"


def text(doc: str) -> str:
    return " ".join((ROOT / doc).read_text().split())


def named_runs() -> set[str]:
    found = set()
    for doc in DOCS:
        found.update(RUN_NAME.findall(doc.read_text()))
    return found


def test_the_docs_name_runs() -> None:
    assert {DEMO, DOMAIN, SWEEP} <= named_runs()


@pytest.mark.parametrize("run", sorted(named_runs()))
def test_every_named_run_is_kept(run: str) -> None:
    record = RECORDS / f"{run}.json"
    assert record.is_file(), f"the docs quote run {run}: keep it with scripts/record_run.py"
    kept = {Path(name).name for name in json.loads(record.read_text())["files"]}
    assert {"training_metrics.json", "verdict.json"} <= kept or "sweep.json" in kept


def demo_figures() -> list[str]:
    metrics = load(DEMO, "training_metrics.json")
    valid, schema = delta(DEMO, "json_valid"), delta(DEMO, "json_schema")
    return [
        f"from {pct(valid['before'], 0)} to {pct(valid['after'], 0)}",
        f"from {pct(schema['before'], 0)} to {pct(schema['after'], 0)}",
        f"[+{valid['ci_low_points']:.0f}, +{valid['ci_high_points']:.0f}]",
        f"[+{schema['ci_low_points']:.0f}, +{schema['ci_high_points']:.0f}]",
        f"{pct(benchmark_score(DEMO, 'before', 'builtin:ifeval-mini'))} -> "
        f"{pct(benchmark_score(DEMO, 'after', 'builtin:ifeval-mini'))}",
        f"{pct(benchmark_score(DEMO, 'before', 'builtin:mc-mini'))} -> "
        f"{pct(benchmark_score(DEMO, 'after', 'builtin:mc-mini'))}",
        f"{metrics['steps']} LoRA steps in {metrics['train_time_s']:.0f} s",
        f"({metrics['loss']['tokens_per_second']:.0f} tokens/s)",
        f"{metrics['memory']['peak_memory_mib'] / 1024:.1f} GiB",
        f"took {load(DEMO, 'eval/before.json')['elapsed_s']:.0f} s and "
        f"{load(DEMO, 'eval/after.json')['elapsed_s']:.0f} s",
        f"verdict was {load(DEMO, 'verdict.json')['verdict']}",
    ]


def test_readme_demo_figures() -> None:
    readme = text("README.md")
    missing = [figure for figure in demo_figures() if figure not in readme]
    assert not missing, f"README.md does not quote these figures of run {DEMO}: {missing}"


def test_guide_figures_of_the_demo_run() -> None:
    metrics = load(DEMO, "training_metrics.json")
    parameters = metrics["model"]["parameters"]
    understanding = text("docs/UNDERSTANDING_FINETUNING.md")
    assert f"{parameters['trainable'] / 1e6:.1f}M trainable parameters" in understanding
    assert (
        f"{parameters['trainable_percent']:.1f}% of the {parameters['total'] / 1e6:.0f}M"
        in understanding
    )
    faq = text("docs/FAQ.md")
    assert f"{pct(task_score(DEMO, 'after', 'json_valid'), 0)} valid JSON" in faq
    assert f"one epoch of {metrics['data']['train_examples']} examples" in faq
    assert metrics["epochs"] == 1.0
    assert (
        f"{metrics['loss']['tokens_per_second']:.0f} tokens/s, "
        f"{metrics['train_time_s']:.0f} s of training"
    ) in faq


def test_benchmark_guide_domain_figures() -> None:
    guide = text("docs/BENCHMARK.md")
    metrics = load(DOMAIN, "training_metrics.json")
    domain = next(d for d in load(DOMAIN, "verdict.json")["deltas"] if d["role"] == "task")
    guard = next(d for d in load(DOMAIN, "verdict.json")["deltas"] if d["role"] == "guard")
    for figure in [
        f"from {pct(domain['before'])} to {pct(domain['after'])}",
        f"(+{domain['delta_points']:.1f} points",
        f"CI {domain['ci_low_points']:.1f}..{domain['ci_high_points']:.1f}, n={domain['n']}",
        f"from {pct(guard['before'])} to {pct(guard['after'])}",
        f"{metrics['steps']} LoRA steps in {metrics['train_time_s']:.0f} s",
    ]:
        assert figure in guide, f"docs/BENCHMARK.md does not quote {figure!r} of run {DOMAIN}"


def test_experiments_sweep_table() -> None:
    guide = text("docs/EXPERIMENTS.md")
    runs = {
        "r 8, 1 epoch (12 steps)": "rank-epochs-r8-num_train_epochs1-",
        "r 16, 1 epoch": "rank-epochs-r16-num_train_epochs1-",
        "r 8, 3 epochs (36 steps)": "rank-epochs-r8-num_train_epochs3-",
        "r 16, 3 epochs": "rank-epochs-r16-num_train_epochs3-",
    }
    for label, run in runs.items():
        cells = [
            pct(task_score(run, "after", m))
            for m in ("json_valid", "json_schema", "field_accuracy")
        ]
        change = delta(run, "builtin:mc-mini")["delta_points"]
        seconds = load(run, "training_metrics.json")["train_time_s"]
        row = re.search(
            rf"\| {re.escape(label)} \|([^|]+)\|([^|]+)\|([^|]+)\|([^|]+)\|([^|]+)\|", guide
        )
        assert row, f"no sweep table row {label!r} in docs/EXPERIMENTS.md"
        quoted = [cell.strip() for cell in row.groups()]
        assert quoted[:3] == cells, (label, quoted, cells)
        assert quoted[3].startswith(f"{change:+.1f}".replace("-0.0", "+0.0")), (label, quoted[3])
        assert quoted[4] == f"{seconds:.0f} s", (label, quoted[4])
    base = [
        pct(task_score("rank-epochs-r8-num_train_epochs1-", "before", m))
        for m in ("json_valid", "json_schema", "field_accuracy")
    ]
    assert f"| {' | '.join(base)} |" in guide


def test_experiments_sweep_time_and_memory() -> None:
    started = datetime.fromisoformat(load(SWEEP, "sweep.json")["created"])
    compared = datetime.fromisoformat(load(SWEEP, "comparison.json")["created"])
    minutes, seconds = divmod(round((compared - started).total_seconds()), 60)
    guide = text("docs/EXPERIMENTS.md")
    assert f"{minutes} min {seconds} s from its start to its comparison" in guide
    peak = max(
        data["memory"]["peak_memory_mib"]
        for path, data in records().items()
        if path.startswith(f"{SWEEP}/") and path.endswith("/training_metrics.json")
    )
    assert f"peaked at {peak / 1024:.1f} GiB RSS" in guide


def test_experiments_model_comparison_table() -> None:
    guide = text("docs/EXPERIMENTS.md")
    for model in ("smollm2-135m-instruct", "gemma3-270m"):
        run = f"compare-models-name_or_path{model}-"
        metrics = load(run, "training_metrics.json")
        guard_before = benchmark_score(run, "before", "builtin:mc-mini")
        guard_after = benchmark_score(run, "after", "builtin:mc-mini")
        expected = " | ".join(
            [
                model,
                f"{pct(task_score(run, 'before', 'json_valid'))} → "
                f"{pct(task_score(run, 'after', 'json_valid'))}",
                pct(task_score(run, "after", "json_schema")),
                pct(task_score(run, "after", "field_accuracy")),
                f"{pct(guard_before)} → {pct(guard_after)}",
                f"{metrics['loss']['final_train_loss']:.4f} / "
                f"{metrics['loss']['final_val_loss']:.4f}",
                f"{metrics['train_time_s']:.0f} s, "
                f"{metrics['loss']['tokens_per_second']:.0f} tokens/s",
                f"{metrics['memory']['peak_memory_mib'] / 1024:.1f} GiB",
            ]
        )
        assert f"| {expected} |" in guide, f"docs/EXPERIMENTS.md lacks the row | {expected} |"
    started = datetime.fromisoformat(load("sweep-compare-models", "sweep.json")["created"])
    compared = datetime.fromisoformat(load("sweep-compare-models", "comparison.json")["created"])
    minutes, seconds = divmod(round((compared - started).total_seconds()), 60)
    assert f"The two runs took {minutes} min {seconds} s" in guide


def test_models_guide_quotes_the_comparison() -> None:
    gemma, smollm = (
        task_score(f"compare-models-name_or_path{model}-", "after", "json_schema")
        for model in ("gemma3-270m", "smollm2-135m-instruct")
    )
    assert (
        f"it reached {pct(gemma, 0)} schema conformance where SmolLM2-135M reached {pct(smollm, 0)}"
    ) in text("docs/MODELS.md")


def test_benchmark_guide_quotes_the_base_model_guard_scores() -> None:
    guide = text("docs/BENCHMARK.md")
    before = load(DEMO, "eval/before.json")["benchmarks"]
    for name, metric in (("ifeval-mini", "prompt_level_strict_acc"), ("mc-mini", "acc")):
        score = before[f"builtin:{name}"]["metrics"][metric]
        quoted = (
            f"{name} {metric} {pct(score['score'])} [{100 * score['ci_low']:.1f}, "
            f"{100 * score['ci_high']:.1f}] (n={score['n']})"
        )
        assert quoted in guide, f"docs/BENCHMARK.md does not quote {quoted!r}"


def test_training_guide_hyperparameter_figures() -> None:
    guide = text("docs/TRAINING.md")
    changes = {
        summary["run"].split("-num_train_epochs")[1]: summary["changes_points"]["json_valid"]
        for summary in load(SWEEP, "comparison.json")["comparisons"]
    }
    assert (
        f"changed json_valid by {changes['1']:+.1f} points at one epoch and "
        f"{changes['3']:+.1f} at three"
    ) in guide
    schema = {
        r: pct(task_score(f"rank-epochs-r{r}-num_train_epochs3-", "after", "json_schema"))
        for r in (8, 16)
    }
    one_epoch = pct(task_score("rank-epochs-r8-num_train_epochs1-", "after", "json_schema"))
    assert (f"from {one_epoch} to {schema[8]} (rank 8) and {schema[16]} (rank 16)") in guide
    loss = load(DEMO, "training_metrics.json")["loss"]
    findings = {f["kind"]: f for f in load(DEMO, "verdict.json")["findings"]}
    assert (
        f"from a loss of {loss['first_train_loss']:.3f} to {loss['final_train_loss']:.3f} and "
        "converged"
    ) in guide and "converged" in findings
    assert "instability" not in findings and "reports no instability in it" in guide
