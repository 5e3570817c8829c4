"""LoRA adapters: attach a fresh one, save it, load it back, check it is applied, merge it."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from goaltune.config import LoraConfig, RunConfig, load_config
from goaltune.errors import ModelError
from goaltune.models import load_model_and_tokenizer
from goaltune.run_folder import RunFolder, resolve_run_dir, write_failure

# What PEFT writes into an adapter folder, and all a base model needs to take the adapter back.
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


@dataclass
class RunModel:
    """A run's base model with its adapter applied, the tokenizer, and the run's config."""

    model: Any
    tokenizer: Any
    config: RunConfig
    run_dir: Path


def build_lora_model(model: Any, config: LoraConfig) -> Any:
    """Wrap a base model with a fresh trainable LoRA adapter (PEFT); a 4-bit base is prepared
    for k-bit training first (QLoRA)."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model, prepare_model_for_kbit_training

    if getattr(model, "hf_quantizer", None) is not None:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)

    peft_config = PeftLoraConfig(
        r=config.r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        use_dora=config.use_dora,
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # PEFT reads a property that Transformers 5 deprecates
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        return get_peft_model(model, peft_config)


def save_adapter(model: Any, run_dir: Path, state_dict: dict[str, Any] | None = None) -> Path:
    """Write the adapter in PEFT format, atomically (staged, then renamed into place).

    `state_dict` supplies the weights when the model's own are sharded (FSDP, ZeRO-3).
    """
    target = RunFolder(run_dir).adapter_dir
    try:
        staging = Path(tempfile.mkdtemp(prefix=".adapter-", dir=run_dir))
        try:
            extra = {} if state_dict is None else {"state_dict": state_dict}
            model.save_pretrained(str(staging), safe_serialization=True, **extra)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        raise write_failure(target, error) from error
    return target


def load_adapter(model: Any, adapter_dir: str | Path) -> Any:
    """Apply a saved PEFT adapter to a base model (inference mode)."""
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ModelError(f"{adapter_dir}: not an adapter folder (no adapter_config.json)")
    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)


def load_run_model(run: str | Path) -> RunModel:
    """Load the base model named in the run's config.yaml and apply the run's adapter."""
    run_dir = resolve_run_dir(run)
    folder = RunFolder(run_dir)
    config = load_config(folder.config_path)
    base, tokenizer = load_model_and_tokenizer(config.model)
    return RunModel(load_adapter(base, folder.adapter_dir), tokenizer, config, run_dir)


def adapter_is_active(model: Any) -> bool:
    """True when some LoRA B matrix is non-zero, i.e. the adapter changes the model's outputs."""
    return any(
        float(p.detach().abs().max()) > 0
        for name, p in model.named_parameters()
        if "lora_B" in name or "lora_magnitude" in name
    )


@torch.no_grad()
def require_active_adapter(model: Any, tokenizer: Any, adapter: str) -> None:
    """ModelError unless the adapter changes the model's outputs on a probe sentence.

    An evaluation "with the adapter" that silently ran the base model reports identical scores
    before and after; this catches an adapter that was not applied, disabled, or never trained.
    """
    if not hasattr(model, "disable_adapter"):
        raise ModelError(f"{adapter}: the model under evaluation carries no adapter")
    probe = tokenizer("Adapter check: the quick brown fox.", return_tensors="pt")
    probe = {key: value.to(next(model.parameters()).device) for key, value in probe.items()}
    with_adapter = model(**probe).logits
    with model.disable_adapter():
        without = model(**probe).logits
    if torch.equal(with_adapter, without):
        raise ModelError(
            f"{adapter}: the adapter does not change the model's outputs (not applied, "
            "or its LoRA weights are still zero); before and after would be the same model"
        )


def merge_run(run: str | Path) -> RunModel:
    """Load base model + adapter and fold the adapter into the weights (`merge_and_unload`)."""
    return merge_loaded(load_run_model(run))


def merge_loaded(loaded: RunModel) -> RunModel:
    """Fold a loaded run's adapter into its base weights (in place: `loaded` is used up)."""
    model = loaded.model.merge_and_unload()
    model.eval()
    _drop_quantization_marker(model)
    return RunModel(model, loaded.tokenizer, loaded.config, loaded.run_dir)


def _drop_quantization_marker(model: Any) -> None:
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
