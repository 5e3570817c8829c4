"""The goal watched during training: goal_history.csv, the kept adapter, early stopping, resume."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from goaltune.cli import app
from goaltune.config import config_from_dict
from goaltune.diagnose import goal_peak
from goaltune.errors import ConfigError
from goaltune.goal_rule import best_row, goal_rank, seeded_subset
from goaltune.run_folder import GoalRow, RunFolder
from tests.conftest import copy_fixture_run, goaltune, only_run, write_config

GUARD = "builtin:mc-mini"


def row(step: int, task: float, guard: float) -> GoalRow:
    return GoalRow(
        step=step,
        epoch=step / 10,
        tokens_seen=step * 100,
        elapsed_s=float(step),
        task={"exact_match": task},
        guards={GUARD: guard},
    )


def goal(target: float | None = None, **thresholds: float) -> Any:
    return config_from_dict(
        {
            "goal": {
                "task_metrics": [{"name": "exact_match", "target": target}],
                "guard_benchmarks": [GUARD],
                "thresholds": thresholds,
            }
        }
    )


def test_the_subset_is_seeded_fixed_and_in_item_order() -> None:
    items = list(range(100))
    chosen = seeded_subset(items, 10, seed=42)
    assert chosen == seeded_subset(items, 10, seed=42) and chosen == sorted(chosen)
    assert len(set(chosen)) == 10 and chosen != seeded_subset(items, 10, seed=43)
    assert seeded_subset(items[:5], 10, seed=42) == items[:5]


def test_the_rule_ranks_targets_then_the_guard_tier_then_the_task_score() -> None:
    config = goal(target=0.5)
    base = row(0, 0.1, 0.8)
    reached_but_guard_collapsed = row(10, 0.9, 0.5)  # 30 points: beyond investigate (20)
    reached_guard_held = row(20, 0.6, 0.76)  # 4 points: below tradeoff (5), unchanged
    missed_guard_held = row(30, 0.45, 0.8)
    rows = [base, reached_but_guard_collapsed, reached_guard_held, missed_guard_held]
    assert best_row(rows, config) == reached_guard_held
    # without the target, the guard tier decides before the task score
    assert best_row(rows, goal()) == reached_guard_held
    # within one tier the task score decides; between equals the earliest wins
    caution = row(40, 0.7, 0.64)  # 16 points: between caution (15) and investigate (20)
    assert best_row([base, caution, row(50, 0.8, 0.65)], goal()).step == 50
    assert best_row([base, row(60, 0.5, 0.8), row(70, 0.5, 0.8)], goal()).step == 60
    assert goal_rank(reached_guard_held, base, config)[:2] == (1, 0)
    assert goal_rank(reached_but_guard_collapsed, base, config)[:2] == (1, -3)
    # the target reached with the guard unchanged beats a higher task score with a trade-off
    # (12.5 points: between tradeoff 5 and caution 15), as the brand-voice run's steps 20 and 40
    tradeoff = row(40, 1.0, 0.675)
    assert best_row([base, row(20, 0.9, 0.8), tradeoff], goal(target=0.8)).step == 20
    assert goal_rank(tradeoff, base, config)[:2] == (1, -1)
    assert best_row([base], config) is None  # the base model is never a candidate


def test_guards_are_subset_and_a_generating_guard_is_capped() -> None:
    from goaltune.evaluate.benchmarks import load_benchmark
    from goaltune.goal_watch import _watched_benches

    guards = ["builtin:ifeval-mini", GUARD]
    config = config_from_dict({"goal": {"guard_benchmarks": guards}})
    benches = {b.spec: b for b in _watched_benches(config, ["exact_match"])}
    train = config.train
    assert {s: len(b.loaded.items) for s, b in benches.items()} == {
        guards[0]: train.guard_generation_items,
        GUARD: train.guard_eval_items,
    }
    assert train.guard_generation_items < train.guard_eval_items
    for spec, bench in benches.items():
        everything = load_benchmark(spec).items
        assert bench.loaded.items == seeded_subset(everything, len(bench.loaded.items), 42)
        assert bench.role == "guard"


def test_keeping_the_best_goal_or_stopping_early_needs_goal_eval_steps() -> None:
    with pytest.raises(ConfigError, match="need train.goal_eval_steps"):
        config_from_dict({"train": {"keep": "best_goal"}})
    with pytest.raises(ConfigError, match="need train.goal_eval_steps"):
        config_from_dict({"train": {"early_stopping": {"patience": 2}}})


def test_the_diagnosis_names_an_early_task_peak_with_a_guard_falling_after_it() -> None:
    rows = [row(0, 0.2, 0.8), row(60, 0.7, 0.78), row(120, 0.6, 0.7), row(180, 0.65, 0.66)]
    rows[1] = rows[1].model_copy(update={"epoch": 1.0})
    (finding,) = goal_peak(rows)
    assert finding.kind == "goal_peaked_early" and finding.evidence["peak_step"] == 60
    assert "peaked at step 60" in finding.message and "1 epoch is enough" in finding.message
    assert finding.evidence["guard_fall_points"] == pytest.approx(12.0)
    # the task still rising at the end, or the guard holding after the peak: nothing to say
    assert goal_peak([*rows[:3], row(180, 0.8, 0.66)]) == []
    assert goal_peak([row(0, 0.2, 0.8), row(60, 0.7, 0.8), row(120, 0.6, 0.795)]) == []


def test_the_report_draws_the_goal_curve_with_the_kept_step(tmp_path: Path) -> None:
    from goaltune.report import build_reports
    from goaltune.verdict import verdict_for_run

    folder = RunFolder(copy_fixture_run(tmp_path / "run"))
    folder.write_goal_history([row(0, 0.2, 0.8), row(20, 0.9, 0.78), row(40, 0.6, 0.6)])
    recorded = folder.read_training_metrics().model_dump(mode="json")
    recorded["goal_watch"] = {
        "keep": "best_goal",
        "kept_step": 20,
        "kept_reason": "why",
        "evaluations": 3,
        "eval_time_s": 12.5,
    }
    folder.write_training_metrics(recorded)
    assert [f.kind for f in verdict_for_run(folder.path).findings].count("goal_peaked_early") == 1
    build_reports(folder.path)
    html = folder.report_html_path.read_text()
    assert 'id="chart-goal"' in html and "kept step 20" in html
    markdown = folder.report_md_path.read_text()
    assert "Kept adapter (train.keep: best_goal): why." in markdown
    assert (
        "| goal evaluations during training | 12.5 s (3 evaluations, not in the train time) |"
        in (markdown)
    )


def test_compare_draws_the_goal_curves_of_several_runs_on_one_chart(tmp_path: Path) -> None:
    runs = []
    for name, r in (("r8-20261128T100000Z", 8), ("r32-20261128T110000Z", 32)):
        folder = RunFolder(copy_fixture_run(tmp_path / name))
        raw = yaml.safe_load(folder.config_path.read_text())
        raw["lora"]["r"] = r
        folder.config_path.write_text(yaml.safe_dump(raw))
        folder.write_goal_history([row(0, 0.2, 0.8), row(20, 0.9 * r / 32, 0.78)])
        runs.append(str(folder.path))
    plain = copy_fixture_run(tmp_path / "plain-20261128T120000Z")
    result = CliRunner().invoke(app, ["compare", *runs, "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "cmp" / "comparison.html").read_text()
    assert page.count('<img id="chart-goal"') == 1 and "Goal curves of the 2 of 2 runs" in page
    result = CliRunner().invoke(app, ["compare", runs[0], str(plain), "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "Goal curves of the 1 of 2 runs" in (tmp_path / "b" / "comparison.html").read_text()


# ---------------------------------------------------------------- runs of the tiny model


def watched_config(tmp_path: Path, model_dir: Path, name: str, **train: Any) -> Path:
    path = write_config(tmp_path, model_dir, name=name)
    config = yaml.safe_load(path.read_text())
    watched = {"goal_eval_steps": 2, "goal_eval_items": 4, "guard_eval_items": 40}
    config["train"].update({**watched, **train})
    config["goal"]["guard_benchmarks"] = [GUARD]
    config["output_dir"] = str(tmp_path / name)
    out = tmp_path / f"{name}.yaml"
    out.write_text(yaml.safe_dump(config))
    return out


def run(config: Path, command: str = "run") -> RunFolder:
    result = CliRunner().invoke(app, [command, str(config), "--quiet"])
    assert result.exit_code == 0, result.output
    return RunFolder(only_run(config.parent / config.stem))


def metrics(folder: RunFolder) -> dict[str, Any]:
    return json.loads(folder.training_metrics_path.read_text())


@pytest.mark.integration
def test_the_step_0_row_equals_the_same_items_in_before_json(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    folder = run(watched_config(tmp_path, tiny_model_dir, "watched"))
    rows = folder.read_goal_history()
    assert [r.step for r in rows] == [0, 2, 4, 6]
    before = json.loads(folder.eval_path("before").read_text())
    task_items = seeded_subset(before["task"]["items"], 4, seed=42)
    guard_items = seeded_subset(before["benchmarks"][GUARD]["items"], 40, seed=42)
    task = [item["metrics"]["exact_match"] for item in task_items]
    guard = [item["metrics"]["acc"] for item in guard_items]
    assert rows[0].task == {"exact_match": pytest.approx(sum(task) / 4, abs=1e-12)}
    assert rows[0].guards == {GUARD: pytest.approx(sum(guard) / 40, abs=1e-12)}
    header = next(csv.reader(folder.goal_history_path.open()))
    assert header == [
        "step",
        "epoch",
        "tokens_seen",
        "elapsed_s",
        "task:exact_match",
        f"guard:{GUARD}",
    ]
    watch = metrics(folder)["goal_watch"]
    assert watch["keep"] == "last" and watch["kept_step"] == 6 and watch["evaluations"] == 4
    assert watch["task_items"] == 4 and watch["guard_items"] == {GUARD: 40}
    assert watch["eval_time_s"] > 0 and not watch["stopped_early"]
    # goaltune train writes no before.json: it evaluates step 0 itself, to the same scores
    trained = run(watched_config(tmp_path, tiny_model_dir, "trained"), command="train")
    assert not trained.eval_path("before").exists()
    evaluated = trained.read_goal_history()[0]
    assert evaluated.task == pytest.approx(rows[0].task, abs=1e-12)
    assert evaluated.guards == pytest.approx(rows[0].guards, abs=1e-12)
    assert (
        metrics(trained)["goal_watch"]["evaluations"]
        == metrics(folder)["goal_watch"]["evaluations"]
    )


@pytest.mark.integration
def test_keep_last_trains_exactly_as_without_watching(tmp_path: Path, tiny_model_dir: Path) -> None:
    plain_config = write_config(tmp_path, tiny_model_dir, name="plain")
    raw = yaml.safe_load(plain_config.read_text())
    raw["output_dir"] = str(tmp_path / "plain")
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(raw))
    plain = run(tmp_path / "plain.yaml", "train")
    watched = run(watched_config(tmp_path, tiny_model_dir, "watched"), "train")
    assert "goal_watch" not in metrics(plain) and not plain.goal_history_path.exists()
    assert not plain.kept_dir.exists()
    without, with_watch = (
        load_file(str(f.adapter_dir / "adapter_model.safetensors")) for f in (plain, watched)
    )
    assert without.keys() == with_watch.keys()
    assert all(without[k].equal(with_watch[k]) for k in without)
    strip = [{k: v for k, v in r.items() if k != "elapsed_s"} for r in plain.read_loss_history()]
    again = [{k: v for k, v in r.items() if k != "elapsed_s"} for r in watched.read_loss_history()]
    assert strip == again


@pytest.mark.integration
def test_best_goal_keeps_the_best_row_and_it_becomes_the_adapter(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = watched_config(tmp_path, tiny_model_dir, "best", keep="best_goal")
    folder = run(config)
    rows = folder.read_goal_history()
    best = best_row(rows, config_from_dict(yaml.safe_load(config.read_text())))
    assert best is not None
    watch = metrics(folder)["goal_watch"]
    assert watch["kept_step"] == best.step
    assert watch["kept_reason"].startswith(f"the best goal evaluation, step {best.step}")
    kept = load_file(str(folder.kept_dir / f"step-{best.step:06d}.safetensors"))
    adapter = load_file(str(folder.adapter_dir / "adapter_model.safetensors"))
    assert len(adapter) == len(kept)
    for name, tensor in kept.items():  # PEFT's saved names drop the adapter name
        saved = name.replace(".default", "").removeprefix("base_model.model.")
        match = [t for n, t in adapter.items() if n.endswith(saved)]
        assert len(match) == 1 and match[0].equal(tensor)


@pytest.mark.integration
def test_best_val_loss_keeps_the_lowest_validation_loss(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    folder = run(watched_config(tmp_path, tiny_model_dir, "val", keep="best_val_loss"), "train")
    recorded = metrics(folder)
    assert recorded["goal_watch"]["kept_step"] == recorded["loss"]["best_val_step"]
    assert "lowest validation loss" in recorded["goal_watch"]["kept_reason"]


@pytest.mark.integration
def test_early_stopping_on_patience_and_on_the_guard_budget(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = watched_config(
        tmp_path, tiny_model_dir, "patient", max_steps=12, early_stopping={"patience": 1}
    )
    folder = run(config, "train")
    rows, recorded = folder.read_goal_history(), metrics(folder)
    watch = recorded["goal_watch"]
    # the run stopped at the first evaluation that was not a new best by the rule
    goal_config = config_from_dict(yaml.safe_load(config.read_text()))
    firsts = [best_row(rows[: i + 1], goal_config) for i in range(1, len(rows))]
    stalled = next(i for i in range(1, len(firsts)) if firsts[i] == firsts[i - 1])
    assert rows[-1].step == rows[stalled + 1].step == recorded["steps"] < 12
    assert watch["stopped_early"] and watch["stop_reason"].startswith("early stopping")

    raw = yaml.safe_load(watched_config(tmp_path, tiny_model_dir, "budget").read_text())
    raw["train"].update(early_stopping={"guard_budget": True}, save_steps=2)
    raw["goal"]["thresholds"] = {"investigate_drop_points": -200.0}  # any score is over budget
    (tmp_path / "budget.yaml").write_text(yaml.safe_dump(raw))
    folder = run(tmp_path / "budget.yaml", "train")
    watch = metrics(folder)["goal_watch"]
    assert [r.step for r in folder.read_goal_history()] == [0, 2]
    assert metrics(folder)["steps"] == 2 and watch["stop_reason"].startswith("guard budget: ")
    assert GUARD in watch["stop_reason"]
    # resumed from the checkpoint of the stopping step, the run stays stopped there
    rows = goal_rows(folder)
    folder.set_status("interrupted")
    shutil.rmtree(folder.adapter_dir)
    result = CliRunner().invoke(app, ["train", "--resume", str(folder.path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert goal_rows(folder) == rows and metrics(folder)["goal_watch"] == watch
    assert metrics(folder)["steps"] == 2


def goal_rows(folder: RunFolder) -> list[dict[str, Any]]:
    return [r.model_dump(exclude={"elapsed_s"}) for r in folder.read_goal_history()]


def kill_when(process: Any, ready: Any) -> None:
    """SIGKILL `process` as soon as `ready()` holds (polled every 2 ms)."""
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if ready():
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "training ended before the kill"


def lines(root: Path, name: str) -> int:
    found = list(root.glob(f"killed-*/{name}")) if root.exists() else []
    return sum(1 for _ in found[0].open()) if found else 0


@pytest.mark.integration
@pytest.mark.parametrize("moment", ["during", "after"])
def test_sigkill_during_or_after_a_goal_evaluation_then_resume_matches(
    tmp_path: Path, tiny_model_dir: Path, moment: str
) -> None:
    # 5 steps an epoch: checkpoints at 5, 7, 10, 14, 15, 20, ...; evaluations at 0, 8, 16, ...
    settings: dict[str, Any] = {"max_steps": 40, "goal_eval_steps": 8, "save_steps": 7}
    settings.update(keep="best_goal", learning_rate=3e-2)
    reference = run(watched_config(tmp_path, tiny_model_dir, "reference", **settings), "train")
    process = goaltune("train", str(watched_config(tmp_path, tiny_model_dir, "killed", **settings)))
    root = tmp_path / "killed"
    if moment == "during":  # checkpoint 15 written: step 16 and its evaluation (most of it) run
        kill_when(process, lambda: any(root.glob("killed-*/checkpoints/step-000015")))
    else:  # the evaluation of step 16 written, the checkpoint of step 20 not yet
        kill_when(process, lambda: lines(root, "goal_history.csv") > 3)
    killed = RunFolder(only_run(root))
    rows_at_kill = [r.step for r in killed.read_goal_history()]
    assert rows_at_kill in (([0, 8], [0, 8, 16]) if moment == "during" else ([0, 8, 16],))
    checkpoint = max(
        int(p.name.removeprefix("step-")) for p in killed.checkpoints_dir.glob("step-*")
    )
    assert checkpoint == 15  # the resume redoes step 16 and its evaluation
    resumed = goaltune("train", "--resume", str(killed.path), "-q")
    assert resumed.wait(timeout=300) == 0, resumed.stdout.read() if resumed.stdout else ""
    assert goal_rows(killed) == goal_rows(reference)
    kept, expected = metrics(killed)["goal_watch"], metrics(reference)["goal_watch"]
    assert kept["kept_step"] == expected["kept_step"]
    assert kept["kept_reason"] == expected["kept_reason"]
    got = load_file(str(killed.adapter_dir / "adapter_model.safetensors"))
    want = load_file(str(reference.adapter_dir / "adapter_model.safetensors"))
    assert all(got[k].allclose(want[k], rtol=0, atol=1e-6) for k in want)
