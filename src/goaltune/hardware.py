"""The hardware a run trains on: bf16 support, peak memory, model placement, checkpointing."""

from __future__ import annotations

import resource
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from goaltune.distributed import Context
from goaltune.loss import causal_lm


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(setting: str | bool, device: torch.device) -> bool:
    """Resolve the `bf16` setting: auto means on where the hardware runs bf16 natively."""
    if setting in (True, "true"):
        return True
    if setting in (False, "false"):
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_supports_bf16()


def peak_memory(device: torch.device) -> dict[str, Any]:
    """Peak memory so far: CUDA max allocated on GPU, else the process's peak RSS."""
    if device.type == "cuda":
        return {
            "peak_memory_mib": torch.cuda.max_memory_allocated(device) / 2**20,
            "kind": "cuda_max_allocated",
        }
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_memory_mib": rss_kib / 1024, "kind": "process_peak_rss"}


def gathered_memory(dist: Context, device: torch.device) -> dict[str, Any]:
    """Every process's peak memory (`per_process`); the headline figure is the largest."""
    everyone = dist.gather({"rank": dist.rank, "device": str(device), **peak_memory(device)})
    largest = max(everyone, key=lambda m: m["peak_memory_mib"])
    return {
        "peak_memory_mib": largest["peak_memory_mib"],
        "kind": largest["kind"],
        "per_process": everyone,
    }


def place_model(model: Any, device: torch.device) -> None:
    """Move the model to the device (a quantized model was placed when it was loaded)."""
    if getattr(causal_lm(model), "hf_quantizer", None) is None:
        model.to(device)


def enable_gradient_checkpointing(model: Any) -> None:
    """Recompute activations during backward instead of keeping them: less memory, more compute."""
    lm = causal_lm(model)
    options = {"use_reentrant": False}
    if hasattr(lm, "activation_checkpointing_enable"):  # the name since Transformers 5.x
        lm.activation_checkpointing_enable(activation_checkpointing_kwargs=options)
    else:
        lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options)
    lm.config.use_cache = False


def autocast(device: torch.device, bf16: bool) -> Any:
    """bf16 autocast on the device when `bf16`, else a no-op context."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
