"""GOALTUNE_DEBUG=1: a user error keeps its one line and exit 2, after the full traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from goaltune.cli import app

BAD_CONFIGS = {
    "invalid_yaml": ("model: [unclosed\n", "yaml.parser.ParserError"),
    "invalid_value": ("train:\n  learning_rate: fast\n", "ValidationError"),
}


def run_bad_config(tmp_path: Path, text: str) -> tuple[int, str]:
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    result = CliRunner().invoke(app, ["run", str(config), "--quiet"])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_without_debug_a_bad_config_is_one_line(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOALTUNE_DEBUG", raising=False)
    code, output = run_bad_config(tmp_path, BAD_CONFIGS[name][0])
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2, output
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_debug_shows_the_chained_traceback(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOALTUNE_DEBUG", "1")
    text, cause = BAD_CONFIGS[name]
    code, output = run_bad_config(tmp_path, text)
    assert code == 2, output
    assert "Traceback (most recent call last)" in output
    assert "The above exception was the direct cause of the following exception" in output
    assert cause in output and "goaltune.errors.ConfigError" in output
    assert output.splitlines()[-1].startswith("error: ")
