"""`goaltune compare` and `goaltune runs` on synthetic run folders (copies of the fixture run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

import goaltune.cli
from goaltune.cli import app
from goaltune.compare import compare_runs, expand_runs, factor_path, find_runs
from tests.conftest import copy_fixture_run


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        goaltune.cli.experiments_commands, "console", Console(width=250, force_terminal=False)
    )


def edit_json(path: Path, change: Any) -> None:
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


def make_run(
    root: Path,
    folder: str,
    status: str = "finished",
    json_valid: float = 0.9,
    train_time: float = 100.0,
    **config: Any,
) -> Path:
    """A copy of the fixture run with config keys (dotted) and a few figures changed."""
    run = copy_fixture_run(root / folder)
    raw = yaml.safe_load((run / "config.yaml").read_text())
    raw["name"] = folder.rsplit("-", 1)[0]
    for key, value in config.items():
        section, name = key.split(".")
        raw[section][name] = value
    (run / "config.yaml").write_text(yaml.safe_dump(raw))
    edit_json(run / "status.json", lambda s: s.update(status=status))
    edit_json(
        run / "eval" / "after.json",
        lambda a: a["task"]["metrics"]["json_valid"].update(score=json_valid),
    )
    edit_json(run / "training_metrics.json", lambda m: m.update(train_time_s=train_time))
    return run


def compare(*args: str) -> Any:
    result = CliRunner().invoke(app, ["compare", *args])
    return result


def test_group_by_names_config_paths() -> None:
    assert factor_path("model") == "model.name_or_path"
    assert factor_path("dataset") == "data.train"
    assert factor_path("num_train_epochs") == "train.num_train_epochs"
    assert factor_path("lora.r") == "lora.r"


def test_one_varied_factor_is_summarised(tmp_path: Path) -> None:
    small = make_run(tmp_path, "r16-20261128T100000Z", **{"lora.r": 16})
    large = make_run(
        tmp_path, "r64-20261128T110000Z", json_valid=0.92, train_time=130.0, **{"lora.r": 64}
    )
    result = compare(str(large), str(small), "--out", str(tmp_path / "cmp"))
    assert result.exit_code == 0, result.output
    line = (
        "lora.r 64 vs 16: +2.0 points json_valid, +0.0 points json_schema, "
        "+0.0 points builtin:ifeval-mini, +0.0 points builtin:mc-mini, 1.3x time"
    )
    assert line in result.output
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert data["group_by"] == "lora.r" and data["differing_keys"] == ["lora.r"]
    (pair,) = data["comparisons"]
    assert pair["summary"] == line and pair["confounded_by"] == {} and pair["time_ratio"] == 1.3
    markdown = (tmp_path / "cmp" / "comparison.md").read_text()
    assert line in markdown and "Confounded" not in markdown
    assert "| r64 | 64 | finished | **SUCCESS (caution)** |" in markdown
    assert (
        "| builtin:mc-mini | acc (primary) | r16 | 58.3% [33.3, 83.3] | 50.0% [25.0, 75.0] |"
        in markdown
    )
    page = (tmp_path / "cmp" / "comparison.html").read_text()
    for chart in ("chart-task", "chart-benchmarks", "chart-loss"):
        assert f'<img id="{chart}"' in page


def test_runs_differing_in_two_factors_are_flagged_confounded(tmp_path: Path) -> None:
    base = make_run(tmp_path, "a-20261128T100000Z", **{"lora.r": 16})
    other = make_run(tmp_path, "b-20261128T110000Z", **{"lora.r": 64, "train.num_train_epochs": 3})
    result = compare(str(base), str(other), "--group-by", "lora.r", "--out", str(tmp_path / "c"))
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "confounded: b vs a also differ in train.num_train_epochs" in flat
    data = json.loads((tmp_path / "c" / "comparison.json").read_text())
    assert data["comparisons"][0]["confounded_by"] == {"train.num_train_epochs": [3.0, 1.0]}
    markdown = (tmp_path / "c" / "comparison.md").read_text()
    assert "**Confounded**" in markdown
    assert "lora.r 64 vs 16 (confounded: also train.num_train_epochs 3 vs 1)" in markdown
    unflagged = compare_runs([base, other])
    assert unflagged.factor is None and not unflagged.confounded
    assert "pass --group-by KEY" in " ".join(unflagged.notes)


def test_matched_pairs_in_a_grid_are_not_confounded(tmp_path: Path) -> None:
    grid = [(8, 1), (8, 2), (16, 1), (16, 2)]
    runs = [
        make_run(tmp_path, f"g{i}-2026112{i}T100000Z", **{"lora.r": r, "train.num_train_epochs": e})
        for i, (r, e) in enumerate(grid)
    ]
    comparison = compare_runs(runs, "lora.r")
    assert not comparison.confounded
    assert [(p.run.label, p.reference.label) for p in comparison.pairs] == [
        ("g2", "g0"),
        ("g3", "g1"),
    ]
    assert comparison.pairs[1].text().startswith("lora.r 16 vs 8 (at train.num_train_epochs=2)")


def test_unknown_group_by_and_single_run_are_errors(tmp_path: Path) -> None:
    a = make_run(tmp_path, "a-20261128T100000Z")
    b = make_run(tmp_path, "b-20261128T100000Z", **{"lora.r": 8})
    assert compare(str(a), str(b), "--group-by", "lora.rank").exit_code == 2
    single = compare(str(a))
    assert single.exit_code == 2 and "at least two runs" in single.output


def test_runs_lists_statuses_and_skips_other_folders(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    make_run(root, "done-20261128T100000Z", **{"lora.r": 8})
    make_run(root, "broken-20261128T110000Z", status="failed")
    make_run(root, "stopped-20261128T120000Z", status="interrupted")
    live = make_run(root, "live-20261128T130000Z", status="running")
    (live / "verdict.json").unlink()
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("not a run")
    (root / "README.txt").write_text("not a run either")
    sweep = root / "sweep-x-20261128T140000Z"
    sweep.mkdir()
    make_run(sweep, "inner-20261128T140000Z", **{"train.learning_rate": 0.001})
    result = CliRunner().invoke(app, ["runs", str(root)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "2026" in line]
    assert len(lines) == 5 and "notes" not in result.output
    for folder, status in [
        ("done", "finished"),
        ("broken", "failed"),
        ("stopped", "interrupted"),
        ("live", "running"),
    ]:
        (line,) = [line for line in lines if f" {folder}-2026" in line]
        assert status in line
    (done,) = [line for line in lines if " done-" in line]
    for cell in (
        "smollm2-135m-instruct",
        "builtin:json-api",
        " 8 ",
        "0.0003",
        "SUCCESS (caution)",
        "+70.0 json_valid",
        "-10.0 builtin:ifeval-mini",
        "2m32s",
    ):
        assert cell in done
    assert "sweep-x-20261128T140000Z/inner-20261128T140000Z" in result.output
    assert expand_runs([sweep]) == find_runs(sweep)


def test_runs_on_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["runs", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such runs folder" in result.output


def test_compare_shows_each_runs_flips_from_its_verdict(tmp_path: Path) -> None:
    from goaltune.pipeline import judge_and_report
    from goaltune.run_folder import RunFolder

    small = make_run(tmp_path, "r16-20261128T100000Z", **{"lora.r": 16})
    large = make_run(tmp_path, "r64-20261128T110000Z", **{"lora.r": 64})

    def all_wrong(after: Any) -> None:  # every json_valid item of r64 wrong after training
        for item in after["task"]["items"]:
            item["metrics"]["json_valid"] = 0.0

    edit_json(large / "eval" / "after.json", all_wrong)
    for run in (small, large):
        judge_and_report(run)  # verdict.json with flips, recounted from the eval files
    verdicts = {run.name.split("-")[0]: RunFolder(run).read_verdict() for run in (small, large)}
    counts = {
        label: {f.name: (f.right_to_wrong, f.wrong_to_right, f.p_value) for f in v.flips}
        for label, v in verdicts.items()
    }
    assert counts["r16"]["json_valid"] != counts["r64"]["json_valid"]
    assert counts["r64"]["json_valid"][1] == 0  # nothing can go wrong -> right
    result = compare(str(small), str(large), "--out", str(tmp_path / "cmp"))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    for run in data["runs"]:
        shown = {
            f["name"]: (f["right_to_wrong"], f["wrong_to_right"], f["p_value"])
            for f in run["flips"]
        }
        assert shown == counts[run["label"]]
        assert [f["name"] for f in run["flips"]] == [d["name"] for d in run["deltas"]]
    markdown = (tmp_path / "cmp" / "comparison.md").read_text()
    terminal = " ".join(result.output.split())
    for label, by_name in counts.items():
        for name, (r2w, w2r, p) in by_name.items():
            role = "task" if name.startswith("json") else "guard"
            assert f"| {name} | {role} | {label} | {r2w} | {w2r} | {p:.2g} |" in markdown
            assert f"{r2w} / {w2r} (p {p:.2g})" in terminal
