"""Task metrics: each scores one model output against one item and returns named values in [0, 1].

A metric is a function `(output, item) -> dict[str, float]`; one metric may report several values
(`json_valid` reports strict and lenient validity). Register new ones in `METRICS`. A metric
that explains its score per item (which style checks failed) also registers a details function
in `DETAILS`, whose fields join the item's record in the eval files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from goaltune.errors import DataError
from goaltune.evaluate.metrics.similarity import bleu, chrf, length_ratio, rouge_l
from goaltune.evaluate.metrics.style import style_failed, style_pass

Metric = Callable[[str, dict[str, Any]], dict[str, float]]
Details = Callable[[str, dict[str, Any]], dict[str, Any]]


def first_json_value(text: str) -> tuple[bool, Any]:
    """The first JSON object or array found in `text` (e.g. inside a code fence), if any."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
            return True, value
        except json.JSONDecodeError:
            continue
        except RecursionError:  # nested too deeply to be an answer; later candidates are too
            break
    return False, None


def strict_json(text: str) -> tuple[bool, Any]:
    """Parse the whole answer (surrounding whitespace aside) as one JSON value."""
    try:
        return True, json.loads(text.strip())
    except (json.JSONDecodeError, RecursionError):
        return False, None


def json_valid(output: str, item: dict[str, Any]) -> dict[str, float]:
    """Strict: the whole answer is JSON. Lenient: the first JSON value found parses."""
    strict, _ = strict_json(output)
    lenient, _ = first_json_value(output)
    return {"json_valid": float(strict), "json_valid_lenient": float(strict or lenient)}


def _parsed(output: str) -> tuple[bool, Any]:
    ok, value = strict_json(output)
    return (ok, value) if ok else first_json_value(output)


def json_schema(output: str, item: dict[str, Any]) -> dict[str, float]:
    """The answer's JSON (extracted leniently) validates against the item's JSON Schema."""
    import jsonschema
    from referencing.exceptions import Unresolvable

    schema = item.get("schema")
    if not isinstance(schema, dict):
        raise DataError(f"item {item.get('id')}: metric json_schema needs a 'schema' object")
    ok, value = _parsed(output)
    if not ok:
        return {"json_schema": 0.0}
    validator_type = jsonschema.Draft202012Validator
    try:
        validator_type.check_schema(schema)
        return {"json_schema": float(validator_type(schema).is_valid(value))}
    except (jsonschema.SchemaError, Unresolvable) as error:
        reason = getattr(error, "message", error)
        raise DataError(f"item {item.get('id')}: invalid JSON schema ({reason})") from error


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, child in value.items():
            out.update(_leaves(child, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for index, child in enumerate(value):
            out.update(_leaves(child, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def field_accuracy(output: str, item: dict[str, Any]) -> dict[str, float]:
    """Share of the reference JSON's leaf key/value pairs reproduced exactly in the answer."""
    ok_ref, reference = _parsed(str(item.get("reference", "")))
    if not ok_ref:
        raise DataError(f"item {item.get('id')}: metric field_accuracy needs a JSON 'reference'")
    expected = _leaves(reference)
    ok, value = _parsed(output)
    if not ok or not expected:
        return {"field_accuracy": 0.0}
    got = _leaves(value)
    hits = sum(1 for path, leaf in expected.items() if path in got and got[path] == leaf)
    return {"field_accuracy": hits / len(expected)}


def _normalize(text: str) -> str:
    return " ".join(text.strip().split())


def _listed(value: Any, fallback: Any) -> list[Any]:
    """`value` as a list (a single value becomes one element), or `[fallback]` when empty."""
    if not value:
        return [fallback]
    return value if isinstance(value, list) else [value]


def exact_match(output: str, item: dict[str, Any]) -> dict[str, float]:
    """The answer equals the reference (or one of `references`) up to whitespace."""
    references = _listed(item.get("references"), item.get("reference", ""))
    return {"exact_match": float(any(_normalize(output) == _normalize(str(r)) for r in references))}


def contains(output: str, item: dict[str, Any]) -> dict[str, float]:
    """Every keyword (case-insensitive) appears in the answer; keywords default to the reference."""
    keywords = _listed(item.get("keywords"), item.get("reference", ""))
    lowered = output.lower()
    return {"contains": float(all(str(k).lower() in lowered for k in keywords))}


def regex(output: str, item: dict[str, Any]) -> dict[str, float]:
    """The item's `pattern` (a regular expression) matches somewhere in the answer."""
    pattern = item.get("pattern")
    if not isinstance(pattern, str):
        raise DataError(f"item {item.get('id')}: metric regex needs a 'pattern' string")
    try:
        return {"regex": float(re.search(pattern, output) is not None)}
    except re.error as error:
        raise DataError(f"item {item.get('id')}: invalid regex pattern ({error})") from error


METRICS: dict[str, Metric] = {
    "json_valid": json_valid,
    "json_schema": json_schema,
    "field_accuracy": field_accuracy,
    "exact_match": exact_match,
    "contains": contains,
    "regex": regex,
    "rouge_l": rouge_l,
    "chrf": chrf,
    "bleu": bleu,
    "length_ratio": length_ratio,
    "style_pass": style_pass,
}

DETAILS: dict[str, Details] = {"style_pass": style_failed}


def score_output(output: str, item: dict[str, Any], names: list[str]) -> dict[str, float]:
    """All named metrics' values for one output (`judge:NAME` metrics are scored by the judges,
    over all outputs at once, see evaluate/judges)."""
    values: dict[str, float] = {}
    for name in names:
        if name.startswith("judge:"):
            continue
        if name not in METRICS:
            raise DataError(f"unknown metric '{name}' (known: {', '.join(METRICS)})")
        values.update(METRICS[name](output, item))
    return values


def item_details(output: str, item: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The per-item explanations of the named metrics that give one (e.g. `style_failed`)."""
    details: dict[str, Any] = {}
    for name in names:
        if name in DETAILS:
            details.update(DETAILS[name](output, item))
    return details
