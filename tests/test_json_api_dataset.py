"""Tests for the built-in `builtin:json-api` dataset generator."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from goaltune.data.builtin.json_api import (
    RECORD_SCHEMAS,
    RECORD_TYPES,
    TEMPLATES,
    generate_test,
    generate_train,
    split_templates,
)

TRAIN = generate_train()
TEST = generate_test()


def _prompt(example: dict) -> str:
    return example["messages"][0]["content"]


def _answer(example: dict) -> str:
    return example.get("reference") or example["messages"][-1]["content"]


def _leaves(value: Any) -> list[Any]:
    """Every scalar inside a JSON value."""
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_generation_is_deterministic() -> None:
    assert generate_train(60, seed=3) == generate_train(60, seed=3)
    assert generate_test(120, seed=5) == generate_test(120, seed=5)
    assert generate_train() == TRAIN and generate_test() == TEST
    assert generate_train(60, seed=3) != generate_train(60, seed=4)


def test_sizes_shapes_and_balance() -> None:
    assert len(TRAIN) == 600 and len(generate_test(150)) == 150
    for example in TRAIN:
        assert [m["role"] for m in example["messages"]] == ["user", "assistant"]
    for i, example in enumerate(TEST, start=1):
        assert example["id"] == f"json-api-test-{i:04d}"
        assert [m["role"] for m in example["messages"]] == ["user"]
        assert example["schema"] == RECORD_SCHEMAS[example["record_type"]]
    for examples in (TRAIN, TEST):
        counts = Counter(e["record_type"] for e in examples)
        assert set(counts) == set(RECORD_TYPES)
        assert max(counts.values()) - min(counts.values()) <= 1


def test_schemas_are_valid_and_closed() -> None:
    assert len(RECORD_TYPES) >= 5 and set(RECORD_SCHEMAS) == set(RECORD_TYPES)
    for schema in RECORD_SCHEMAS.values():
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert schema["required"] == list(schema["properties"])


@pytest.mark.parametrize("examples", [TRAIN, TEST], ids=["train", "test"])
def test_answers_are_compact_valid_json(examples: list[dict]) -> None:
    for example in examples:
        answer = _answer(example)
        record = json.loads(answer)
        assert answer == json.dumps(record, ensure_ascii=False)
        Draft202012Validator(RECORD_SCHEMAS[example["record_type"]]).validate(record)
        assert len(answer) < 400


@pytest.mark.parametrize("examples", [TRAIN, TEST], ids=["train", "test"])
def test_every_value_is_stated_in_the_request(examples: list[dict]) -> None:
    for example in examples:
        prompt = _prompt(example)
        for leaf in _leaves(json.loads(_answer(example))):
            if isinstance(leaf, str):
                assert leaf in prompt, (leaf, prompt)
            elif isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
                assert json.dumps(leaf) in prompt, (leaf, prompt)


def test_schemas_reject_missing_and_extra_keys() -> None:
    for example in TEST[: 3 * len(RECORD_TYPES)]:
        validator = Draft202012Validator(example["schema"])
        record = json.loads(example["reference"])
        missing = dict(record)
        missing.pop(next(iter(missing)))
        assert not validator.is_valid(missing)
        assert not validator.is_valid({**record, "note": "extra"})
        assert not validator.is_valid([record])


def test_templates_are_many_and_partly_test_only() -> None:
    for record_type in RECORD_TYPES:
        train, test = split_templates(record_type, "train"), split_templates(record_type, "test")
        assert len(TEMPLATES[record_type]) >= 8
        assert not set(train) & set(test)
        assert len(test) >= len(TEMPLATES[record_type]) // 4


def test_train_and_test_prompts_are_disjoint() -> None:
    assert not {_prompt(e) for e in TRAIN} & {_prompt(e) for e in TEST}


def test_test_names_are_unseen_in_training() -> None:
    def names(examples: list[dict]) -> set[str]:
        return {json.loads(_answer(e))["name"] for e in examples if e["record_type"] == "person"}

    assert not names(TRAIN) & names(TEST)


def test_average_answer_is_short() -> None:
    lengths = [len(_answer(e)) for e in TRAIN + TEST]
    assert 80 < sum(lengths) / len(lengths) < 250
