"""Task metrics on hand-made outputs."""

import pytest

from goaltune.errors import DataError
from goaltune.evaluate.metrics import first_json_value, score_output

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
ITEM = {"id": "a", "reference": '{"name": "Ann", "age": 3}', "schema": SCHEMA}


def score(output: str, *names: str, item: dict | None = None) -> dict[str, float]:
    return score_output(output, item or ITEM, list(names))


def test_json_valid_strict_and_lenient() -> None:
    assert score('{"name": "Ann", "age": 3}', "json_valid") == {
        "json_valid": 1.0,
        "json_valid_lenient": 1.0,
    }
    fenced = '```json\n{"name": "Ann", "age": 3}\n```'
    assert score(fenced, "json_valid") == {"json_valid": 0.0, "json_valid_lenient": 1.0}
    assert score("no json here", "json_valid") == {"json_valid": 0.0, "json_valid_lenient": 0.0}


def test_first_json_value_skips_broken_candidates() -> None:
    assert first_json_value('see {broken and then {"a": [1, 2]} end') == (True, {"a": [1, 2]})


def test_json_schema_checks_types_and_keys() -> None:
    assert score('{"name": "Ann", "age": 3}', "json_schema")["json_schema"] == 1.0
    assert score('{"name": "Ann", "age": "3"}', "json_schema")["json_schema"] == 0.0
    assert score('{"name": "Ann", "age": 3, "x": 1}', "json_schema")["json_schema"] == 0.0


def test_field_accuracy_counts_leaf_values() -> None:
    assert score('{"name": "Ann", "age": 4}', "field_accuracy")["field_accuracy"] == 0.5
    nested = {"id": "n", "reference": '{"a": {"b": 1, "c": [1, 2]}, "d": [{"e": 5}]}'}
    out = '{"a": {"b": 1, "c": [1, 2]}, "d": [{"e": 6}]}'
    assert score(out, "field_accuracy", item=nested)["field_accuracy"] == pytest.approx(2 / 3)


def test_exact_contains_regex() -> None:
    item = {
        "id": "t",
        "reference": "Paris",
        "keywords": ["paris", "France"],
        "pattern": r"\bParis\b",
    }
    assert score("  Paris ", "exact_match", item=item)["exact_match"] == 1.0
    assert score("Paris, France", "contains", item=item)["contains"] == 1.0
    assert score("Paris only", "contains", item=item)["contains"] == 0.0
    assert score("I love Paris.", "regex", item=item)["regex"] == 1.0


def test_metric_errors_are_data_errors() -> None:
    with pytest.raises(DataError, match="unknown metric 'meteor'"):
        score("x", "meteor")
    with pytest.raises(DataError, match="needs a 'schema'"):
        score("{}", "json_schema", item={"id": "q"})
    with pytest.raises(DataError, match="invalid regex"):
        score("x", "regex", item={"id": "q", "pattern": "("})
