"""Safety: run names stay in output_dir, safe torch.load, no remote code, offline is offline."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from goaltune.config import ModelConfig
from goaltune.models import load_model_and_tokenizer
from goaltune.run_folder import create_run_dir, sanitize_name

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.mark.parametrize(
    "name",
    [
        "../../etc",
        "/etc/passwd",
        "..",
        "a/../../b",
        "..\\..\\win",
        "~root",
        "",
        ".hidden",
        "x" * 200,
        "run\x00name",
        "名前/../x",
    ],
)
def test_run_names_never_escape_the_runs_folder(tmp_path: Path, name: str) -> None:
    cleaned = sanitize_name(name)
    assert cleaned and len(cleaned) <= 80 and re.fullmatch(r"[A-Za-z0-9._-]+", cleaned)
    assert not cleaned.startswith(".")  # one plain folder name: no separator, never . or ..
    folder = create_run_dir(tmp_path / "runs", name)
    assert folder.resolve().parent == (tmp_path / "runs").resolve()


def torch_load_calls(text: str) -> list[str]:
    """The argument text of every `torch.load(...)` call in `text`."""
    calls = []
    for match in re.finditer(r"torch\.load\(", text):
        depth, end = 1, match.end()
        while depth and end < len(text):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        calls.append(text[match.end() : end - 1])
    return calls


def test_every_torch_load_is_weights_only() -> None:
    unsafe = [
        f"{path.relative_to(SRC)}: torch.load({args})"
        for path in SRC.rglob("*.py")
        for args in torch_load_calls(path.read_text(encoding="utf-8"))
        if not re.search(r"weights_only\s*=\s*True", args)
    ]
    assert not unsafe


@pytest.mark.parametrize("asked", [None, True])
def test_trust_remote_code_only_when_the_config_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, asked: bool | None
) -> None:
    import transformers

    (tmp_path / "config.json").write_text("{}")
    seen: list[dict[str, Any]] = []

    def capture(location: str, **kwargs: Any) -> MagicMock:
        seen.append(kwargs)
        return MagicMock()

    for cls in (transformers.AutoModelForCausalLM, transformers.AutoTokenizer):
        monkeypatch.setattr(cls, "from_pretrained", capture)
    config = (
        ModelConfig(name_or_path=str(tmp_path))
        if asked is None
        else ModelConfig(name_or_path=str(tmp_path), trust_remote_code=asked)
    )
    load_model_and_tokenizer(config)
    assert ModelConfig().trust_remote_code is False
    assert len(seen) == 2 and all(kw["trust_remote_code"] is bool(asked) for kw in seen)


OFFLINE_PROBE = """
import json, socket, time
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[1:] or args))
    raise OSError("network use in an offline test")
socket.socket.connect = refuse
socket.getaddrinfo = refuse
from goaltune.config import ModelConfig
from goaltune.data.loading import read_records
from goaltune.evaluate.benchmarks import load_benchmark
from goaltune.models import load_model_and_tokenizer
calls = {
    "model": lambda: load_model_and_tokenizer(ModelConfig(name_or_path="no-org/no-such-model")),
    "dataset": lambda: read_records("hf:no-org/no-such-dataset"),
    "benchmark": lambda: load_benchmark("arc_easy"),
}
errors = {}
for name, call in calls.items():
    started = time.perf_counter()
    try:
        call()
        errors[name] = ("no error", 0.0)
    except Exception as error:
        errors[name] = (type(error).__name__, time.perf_counter() - started)
print(json.dumps({"attempts": attempts, "errors": errors}))
"""


@pytest.mark.integration
def test_hf_hub_offline_touches_no_network(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "PYTHONPATH": str(SRC),
    }
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["attempts"] == []
    kinds = {name: kind for name, (kind, _) in report["errors"].items()}
    assert kinds == {"model": "ModelError", "dataset": "DataError", "benchmark": "BenchmarkError"}
    assert all(seconds < 30 for _, seconds in report["errors"].values())
