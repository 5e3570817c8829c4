"""Flips: items of a judged metric that went right -> wrong or wrong -> right, in verdict.json and
the report, paired by id like the deltas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from goaltune.config import GoalConfig
from goaltune.deltas import mcnemar_p_value
from goaltune.report import build_reports
from goaltune.report.sections_flips import MAX_ITEMS
from goaltune.run_folder import RunFolder, read_json
from goaltune.verdict import build_verdict
from tests.conftest import copy_fixture_run

GOAL = GoalConfig(
    purpose="behavior", task_metrics=["json_valid", "similarity"], guard_benchmarks=["mc"]
)

# json_valid: 15 right -> wrong, 3 wrong -> right, 10 stay right, 12 stay wrong
JSON_VALID = [(1.0, 0.0)] * 15 + [(0.0, 1.0)] * 3 + [(1.0, 1.0)] * 10 + [(0.0, 0.0)] * 12
# similarity is continuous: only a crossing of 0.5 flips (0.5 itself is right)
SIMILARITY = [(0.7, 0.6), (0.6, 0.4), (0.4, 0.5), (0.2, 0.45), (0.5, 0.49)] + [(0.9, 0.9)] * 35
# the guard swaps 5 right answers for 5 wrong ones: the mean holds, the items do not
MC = [(1.0, 0.0)] * 5 + [(0.0, 1.0)] * 5 + [(1.0, 1.0)] * 20


def _item(item_id: str | None, side: int, metrics: dict[str, list[tuple[float, float]]], i: int):
    return {
        "id": item_id,
        "prompt": f"prompt {item_id}",
        "output": f"{'before' if side == 0 else 'after'} answer {item_id}",
        "metrics": {name: pairs[i][side] for name, pairs in metrics.items()},
    }


def _section(prefix: str, side: int, metrics: dict[str, list[tuple[float, float]]]) -> Any:
    n = len(next(iter(metrics.values())))
    items = [_item(f"{prefix}-{i:03d}", side, metrics, i) for i in range(n)]
    # an item only one side has, and one without an id, look like flips but have no pair
    extra = {name: [(1.0, 0.0)] for name in metrics}
    items.append(_item(f"{prefix}-only-{'before' if side == 0 else 'after'}", side, extra, 0))
    items.append(_item(None, side, extra, 0))
    scores = {
        name: {"score": sum(p[side] for p in pairs) / n, "n": n} for name, pairs in metrics.items()
    }
    return {"metrics": scores, "items": items}


def _evaluation(side: int) -> dict[str, Any]:
    task = _section("test", side, {"json_valid": JSON_VALID, "similarity": SIMILARITY})
    return {
        "model": "base",
        "task": {"name": "test", **task},
        "benchmarks": {"mc": {"primary_metric": "acc", **_section("mc", side, {"acc": MC})}},
    }


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run folder with both eval files and the verdict goaltune computes from them."""
    folder = RunFolder(tmp_path / "run")
    before, after = _evaluation(0), _evaluation(1)
    folder.write_eval("before", before)
    folder.write_eval("after", after)
    folder.write_verdict(build_verdict(GOAL, before, after, resamples=200).to_record())
    return folder.path


def _recount(before: dict[str, Any], after: dict[str, Any], metric: str) -> tuple[list, list]:
    """(right -> wrong ids, wrong -> right ids) straight from the eval JSON, paired by id."""
    after_items = {i["id"]: i for i in after["items"] if i["id"] is not None}
    lost, gained = [], []
    for item in before["items"]:
        other = after_items.get(item["id"])
        if item["id"] is None or other is None:
            continue
        was, now = item["metrics"][metric] >= 0.5, other["metrics"][metric] >= 0.5
        if was and not now:
            lost.append(item["id"])
        elif now and not was:
            gained.append(item["id"])
    return lost, gained


def test_flip_counts_in_verdict_json_equal_a_recount_from_the_eval_files(run_dir: Path) -> None:
    folder = RunFolder(run_dir)
    before, after = read_json(folder.eval_path("before")), read_json(folder.eval_path("after"))
    flips = read_json(folder.verdict_path)["flips"]
    assert [(f["name"], f["role"], f["metric"]) for f in flips] == [
        ("json_valid", "task", "json_valid"),
        ("similarity", "task", "similarity"),
        ("mc", "guard", "acc"),
    ]
    for flip in flips:
        if flip["role"] == "task":
            sections = before["task"], after["task"]
        else:
            sections = before["benchmarks"][flip["name"]], after["benchmarks"][flip["name"]]
        lost, gained = _recount(*sections, flip["metric"])
        assert flip["right_to_wrong_ids"] == lost and flip["right_to_wrong"] == len(lost)
        assert flip["wrong_to_right_ids"] == gained and flip["wrong_to_right"] == len(gained)
    assert [(f["right_to_wrong"], f["wrong_to_right"]) for f in flips] == [(15, 3), (2, 1), (5, 5)]


def test_continuous_metrics_flip_only_when_they_cross_one_half(run_dir: Path) -> None:
    similarity = RunFolder(run_dir).read_verdict().flips[1]
    assert similarity.right_to_wrong_ids == ["test-001", "test-004"]  # 0.6 -> 0.4, 0.5 -> 0.49
    assert similarity.wrong_to_right_ids == ["test-002"]  # 0.4 -> 0.5; 0.7 -> 0.6 is no flip


def test_unmatched_and_id_less_items_are_ignored(run_dir: Path) -> None:
    for flip in RunFolder(run_dir).read_verdict().flips:
        ids = flip.right_to_wrong_ids + flip.wrong_to_right_ids
        assert not [i for i in ids if "-only-" in i or i in ("None", "")]


def test_mcnemar_p_value_matches_a_hand_computation(run_dir: Path) -> None:
    # 15 vs 3 discordant pairs: 2 * P(X <= 3) for X ~ Binomial(18, 1/2)
    by_hand = 2 * (1 + 18 + 153 + 816) / 2**18
    assert round(by_hand, 5) == 0.00754
    assert mcnemar_p_value(15, 3) == pytest.approx(by_hand)
    assert mcnemar_p_value(3, 15) == mcnemar_p_value(15, 3)
    assert mcnemar_p_value(0, 7) == pytest.approx(2 / 2**7)
    assert mcnemar_p_value(5, 5) == mcnemar_p_value(0, 0) == 1.0
    json_valid, _, mc = RunFolder(run_dir).read_verdict().flips
    assert json_valid.p_value == pytest.approx(by_hand, rel=1e-3)
    assert mc.p_value == 1.0


def test_report_lists_what_flipped_with_prompts_and_answers(run_dir: Path) -> None:
    page, markdown = (path.read_text(encoding="utf-8") for path in build_reports(run_dir))
    flips = page[page.index('<section id="flips">') : page.index('<section id="items">')]
    assert "What flipped" in flips and "McNemar" in flips
    assert "json_valid: 15 right -&gt; wrong, 3 wrong -&gt; right (p = 0.00754)." in flips
    assert "prompt test-000" in flips and "before answer test-000" in flips
    assert "after answer test-000" in flips
    assert f"... and {18 - MAX_ITEMS} more flipped items of json_valid" in flips
    assert "mc (acc): 5 right -&gt; wrong, 5 wrong -&gt; right (p = 1)." in flips
    assert "-only-" not in flips
    assert "## What flipped" in markdown and "before answer mc-000" in markdown


def test_an_old_verdict_without_flips_still_reads_and_renders(tmp_path: Path) -> None:
    folder = RunFolder(copy_fixture_run(tmp_path / "run"))
    assert "flips" not in read_json(folder.verdict_path)
    assert folder.read_verdict().flips == []
    page = build_reports(folder.path)[0].read_text(encoding="utf-8")
    flips = page[page.index('<section id="flips">') : page.index('<section id="items">')]
    assert "written before goaltune counted flips" in flips


def test_a_failed_run_has_no_flips() -> None:
    verdict = build_verdict(GOAL, _evaluation(0), _evaluation(1), training_status="failed")
    assert verdict.flips == [] and verdict.to_dict()["flips"] == []
