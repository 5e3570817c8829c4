"""Property tests: arbitrary inputs give a valid result or a GoaltuneError, never a crash."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from goaltune.config import GoalConfig
from goaltune.data.formats import FORMATS, Example, normalize_all
from goaltune.data.loading import Location, RawRecord, read_records
from goaltune.errors import GoaltuneError
from goaltune.evaluate.metrics import METRICS, score_output
from goaltune.verdict import VERDICTS, build_verdict

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
role = st.one_of(st.sampled_from(["system", "user", "assistant"]), json_value)
message = st.one_of(st.fixed_dictionaries({"role": role, "content": json_value}), json_value)
key = st.sampled_from(
    ["messages", "instruction", "input", "output", "prompt", "completion", "text", "id", "other"]
)
record_fields = st.dictionaries(
    key, st.one_of(st.text(max_size=20), st.lists(message, max_size=3), json_value), max_size=5
)
file_bytes = st.one_of(
    st.binary(max_size=200),
    st.lists(st.one_of(record_fields.map(json.dumps), st.text(max_size=30)), max_size=5).map(
        lambda lines: "\n".join(lines).encode("utf-8")
    ),
)


@FAST
@given(data=file_bytes, suffix=st.sampled_from([".jsonl", ".json", ".csv"]))
@example(data=b"\xef\xbb\xbfprompt,completion\np,c\n", suffix=".csv")
@example(data=b"\xff\xfe\x00bad", suffix=".jsonl")
@example(data=b"[" * 5000, suffix=".json")
@example(data=b'a,b\n"unterminated\n', suffix=".csv")
def test_read_records_on_arbitrary_bytes(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_bytes(data)
    try:
        records = read_records(str(path))
    except GoaltuneError as error:
        assert str(path) in str(error)
        return
    assert records and all(isinstance(r.fields, dict) for r in records)


@FAST
@given(
    fields=st.lists(record_fields, max_size=4),
    data_format=st.sampled_from(["auto", *FORMATS]),
    system_prompt=st.one_of(st.none(), st.text(max_size=10)),
)
def test_normalize_all_on_arbitrary_objects(
    fields: list[dict[str, Any]], data_format: str, system_prompt: str | None
) -> None:
    records = [RawRecord(f, Location("d.jsonl", "line", i)) for i, f in enumerate(fields, 1)]
    try:
        examples, used = normalize_all(records, data_format, system_prompt)
    except GoaltuneError:
        return
    assert used in FORMATS and len(examples) == len(records)
    for found in examples:
        assert isinstance(found, Example)
        assert found.text is not None or all(
            isinstance(m["content"], str) and m["role"] in ("system", "user", "assistant")
            for m in found.messages
        )


item_strategy = st.dictionaries(
    st.sampled_from(["id", "reference", "references", "keywords", "pattern", "schema"]),
    json_value,
    max_size=6,
)


@FAST
@given(
    output=st.text(max_size=60),
    item=item_strategy,
    names=st.lists(st.sampled_from(sorted(METRICS) + ["nope"]), max_size=4),
)
@example(output="[" * 3000, item={"reference": "{}"}, names=["json_valid", "field_accuracy"])
@example(output="{}", item={"schema": {"type": 5}}, names=["json_schema"])
@example(output="{}", item={"schema": {"pattern": "("}}, names=["json_schema"])
@example(output="x", item={"references": 5, "keywords": 3}, names=["exact_match", "contains"])
def test_score_output_on_arbitrary_items(
    output: str, item: dict[str, Any], names: list[str]
) -> None:
    try:
        values = score_output(output, item, names)
    except GoaltuneError:
        return
    assert all(0.0 <= v <= 1.0 for v in values.values())


score = st.one_of(st.sampled_from([0.0, 1.0]), json_value)
metric_items = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "id": st.sampled_from(["a", "b", "c"]),
                "metrics": st.dictionaries(
                    st.sampled_from(["m", "acc"]), score, min_size=1, max_size=2
                ),
            }
        ),
        json_value,
    ),
    min_size=1,
    max_size=4,
)
section = st.one_of(
    st.fixed_dictionaries(
        {
            "metrics": st.one_of(st.just({"m": {}}), json_value),
            "primary_metric": st.sampled_from(["acc", "m"]),
            "items": metric_items,
        }
    ),
    json_value,
)
eval_dict = st.dictionaries(
    st.sampled_from(["task", "benchmarks"]),
    st.one_of(section, st.dictionaries(st.sampled_from(["arc", "m"]), section, max_size=2)),
    max_size=2,
)
goals = st.builds(
    GoalConfig,
    purpose=st.sampled_from(["behavior", "domain", "learning", "benchmark"]),
    task_metrics=st.lists(st.sampled_from(["m", "arc", "acc"]), max_size=2),
    guard_benchmarks=st.lists(st.sampled_from(["arc", "m"]), max_size=2),
)


any_eval = st.one_of(eval_dict, json_value)
eval_pairs = st.one_of(
    eval_dict.map(lambda d: (d, copy.deepcopy(d))), st.tuples(any_eval, any_eval)
)


@FAST
@given(
    goal=goals,
    pair=eval_pairs,
    status=st.sampled_from(["finished", "failed", "interrupted", "running"]),
)
def test_build_verdict_on_arbitrary_eval_dicts(
    goal: GoalConfig, pair: tuple[Any, Any], status: str
) -> None:
    before, after = pair
    try:
        verdict = build_verdict(goal, before, after, status, resamples=100)
    except GoaltuneError:
        return
    assert verdict.verdict in VERDICTS
    json.dumps(verdict.to_dict())


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_every_metric_scores_an_empty_item_or_says_why(metric: str) -> None:
    try:
        values = score_output("", {}, [metric])
    except GoaltuneError as error:
        assert metric in str(error)
        return
    assert all(0.0 <= v <= 1.0 for v in values.values())
