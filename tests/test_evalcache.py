"""The before-evaluation cache key follows the content of users' benchmark files."""

from __future__ import annotations

from pathlib import Path

from goaltune.config import config_from_dict
from goaltune.evalcache import before_key


def test_editing_a_benchmark_file_changes_the_key(tmp_path: Path) -> None:
    items = tmp_path / "domain.jsonl"
    items.write_text('{"question": "Q?", "choices": ["a", "b"], "answer": "A"}\n')
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    config = config_from_dict(
        {"model": {"name_or_path": str(model)}, "eval": {"benchmarks": [f"mc:{items}"]}},
        source="test",
    )
    first = before_key(config, None)
    assert before_key(config, None) == first
    items.write_text('{"question": "Q?", "choices": ["a", "b"], "answer": "B"}\n')
    second = before_key(config, None)
    assert second["benchmark_data"] != first["benchmark_data"]
    assert second["eval"] == first["eval"]
