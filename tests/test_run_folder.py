"""The run folder contract: typed records, format versions, one home for every file name."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from goaltune.errors import RunError
from goaltune.run_folder import (
    FORMAT_VERSION,
    EvalResult,
    RunFolder,
    TrainingMetrics,
    VerdictRecord,
    read_json,
)
from goaltune.run_folder import layout as layout_module
from tests.conftest import copy_fixture_run

PACKAGE = Path(__file__).parents[1] / "src" / "goaltune"
RUN_FILE_NAMES = (
    "config.yaml",
    "status.json",
    "loss_history.csv",
    "goal_history.csv",
    "training_metrics.json",
    "before.json",
    "after.json",
    "verdict.json",
    "report.html",
    "report.md",
    "sweep.json",
    "comparison.html",
    "comparison.md",
    "comparison.json",
    "parity.json",
)


def test_a_run_folder_of_the_previous_version_reads_as_version_0(tmp_path: Path) -> None:
    folder = RunFolder(copy_fixture_run(tmp_path))
    before, after = folder.read_eval("before"), folder.read_eval("after")
    assert before.format_version == 0 and after.task is not None
    assert after.task.metrics["json_valid"].score == pytest.approx(0.9)
    assert set(after.benchmarks) == {"builtin:ifeval-mini", "builtin:mc-mini"}
    assert folder.read_verdict().verdict == "SUCCESS"
    assert folder.read_training_metrics().model.parameters["trainable"] == 4884480
    assert folder.read_status().status == "finished"
    assert [row["step"] for row in folder.read_loss_history()][:3] == [1, 2, 3]


def test_records_are_written_in_the_current_version_and_keep_unknown_fields(
    tmp_path: Path,
) -> None:
    source = RunFolder(copy_fixture_run(tmp_path / "old"))
    raw = read_json(source.eval_path("after"))
    raw["judge"] = {"model": "a-future-field"}
    target = RunFolder(tmp_path / "new")
    target.write_eval("after", raw)
    written = read_json(target.eval_path("after"))
    assert written["format_version"] == FORMAT_VERSION
    assert written["judge"] == {"model": "a-future-field"}
    assert written["task"]["items"] == raw["task"]["items"]
    assert target.read_eval("after") == EvalResult.model_validate({**raw, "format_version": 1})


def test_a_file_of_a_newer_format_is_refused_with_the_file_named(tmp_path: Path) -> None:
    folder = RunFolder(copy_fixture_run(tmp_path))
    verdict = read_json(folder.verdict_path)
    folder.verdict_path.write_text(json.dumps({**verdict, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(RunError, match=r"verdict\.json: format_version 2 .*newer goaltune"):
        folder.read_verdict()


def test_a_malformed_record_names_the_file_and_the_field(tmp_path: Path) -> None:
    folder = RunFolder(copy_fixture_run(tmp_path))
    before = read_json(folder.eval_path("before"))
    before["task"]["metrics"]["json_valid"]["n"] = "many"
    folder.eval_path("before").write_text(json.dumps(before))
    with pytest.raises(RunError, match=r"eval/before\.json: task\.metrics\.json_valid\.n: "):
        folder.read_eval("before")


def test_status_round_trip_and_unknown_without_a_file(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    assert folder.read_status().status == "unknown" and not folder.is_run()
    folder.set_status("interrupted", "SIGTERM at step 3", resume="goaltune run --resume x")
    status = folder.read_status()
    assert (status.status, status.reason, status.resume) == (
        "interrupted",
        "SIGTERM at step 3",
        "goaltune run --resume x",
    )
    assert read_json(folder.status_path)["format_version"] == FORMAT_VERSION
    assert folder.is_run()


def test_every_json_record_of_the_fixture_round_trips_unchanged(tmp_path: Path) -> None:
    folder = RunFolder(copy_fixture_run(tmp_path))
    for read, model in (
        (folder.read_training_metrics, TrainingMetrics),
        (folder.read_verdict, VerdictRecord),
    ):
        record = read()
        again = model.model_validate(record.model_dump(mode="json"))
        assert again == record


def _string_constants(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_run_file_names_appear_only_in_the_layout_module() -> None:
    """No other module builds a run-folder path from a file name (docstrings may name them)."""
    names = "|".join(map(re.escape, RUN_FILE_NAMES))
    pattern = re.compile(rf"^(eval/)?({names})$")
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            c for c in _string_constants(path) if pattern.match(c)
        )
        for path in PACKAGE.rglob("*.py")
        if path != Path(layout_module.__file__)
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def _doc_sections() -> dict[str, str]:
    """docs/RUN_FOLDER.md's `## name` sections by heading (a heading may name two files)."""
    text = (Path(__file__).parents[1] / "docs" / "RUN_FOLDER.md").read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    for block in text.split("\n## ")[1:]:
        heading, _, body = block.partition("\n")
        for name in re.findall(r"[\w/]+\.json", heading):
            sections[name.removeprefix("eval/")] = body
    return sections


@pytest.mark.parametrize("name", sorted(layout_module.RECORD_MODELS))
def test_run_folder_doc_names_every_field_and_its_example_parses(name: str) -> None:
    model = layout_module.RECORD_MODELS[name]
    body = _doc_sections()[name.removeprefix("eval/")]
    missing = [field for field in model.model_fields if f'"{field}"' not in body]
    assert missing == [], f"docs/RUN_FOLDER.md, {name}: fields not documented"
    examples = re.findall(r"```json\n(.*?)\n```", body, re.DOTALL)
    assert examples, f"docs/RUN_FOLDER.md, {name}: no JSON example"
    for example in examples:
        assert layout_module.parse_record(model, json.loads(example), name).format_version == 1
