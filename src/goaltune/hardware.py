"""The hardware a run trains on: bf16 support, peak memory, model placement, checkpointing."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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


def _frozen_fp32_linears(model: Any) -> list[torch.nn.Linear]:
    """The Linear layers whose fp32 weight is not trained (the base under LoRA adapters)."""
    return [
        module
        for module in causal_lm(model).modules()
        if isinstance(module, torch.nn.Linear)
        and module.weight.dtype == torch.float32
        and not module.weight.requires_grad
    ]


def bf16_base_applies(model: Any, bf16: bool, setting: bool, processes: int) -> bool:
    """Whether to hold the frozen base in bf16: bf16 autocast on, one process, not DoRA.

    DoRA adds the base weight to the adapter's product to take a norm, which would then run in
    bf16 instead of fp32; sharded and wrapped models (several processes) manage their own dtypes.
    """
    uses_dora = any("lora_magnitude" in name for name, _ in model.named_parameters())
    return bf16 and setting and processes == 1 and not uses_dora


class _Bf16Copy:
    """A frozen Linear's bf16 weight and bias, swapped in only while bf16 autocast is on."""

    def __init__(self, layer: torch.nn.Linear) -> None:
        self.fp32 = (layer.weight, layer.bias)
        weight, bias = self.fp32
        self.bf16 = (
            _bf16_parameter(weight),
            bias if bias is None or bias.requires_grad else _bf16_parameter(bias),
        )

    def __call__(self, layer: torch.nn.Module, args: Any) -> None:
        device = self.fp32[0].device.type
        casting = torch.is_autocast_enabled(device)
        casting = casting and torch.get_autocast_dtype(device) == torch.bfloat16
        layer.weight, layer.bias = self.bf16 if casting else self.fp32


def _bf16_parameter(tensor: torch.Tensor) -> torch.nn.Parameter:
    return torch.nn.Parameter(tensor.detach().to(torch.bfloat16), requires_grad=False)


@contextmanager
def bf16_frozen_base(model: Any, enabled: bool) -> Iterator[None]:
    """Keep a bf16 copy of the frozen Linear weights (and biases) while the block runs.

    Under bf16 autocast a Linear casts its fp32 weight on every forward, and autocast caches
    only casts of tensors that require grad, so the frozen base is re-cast at every step. A
    copy made once gives bit-for-bit the same products without the casts; the adapter, the
    optimizer and the loss stay fp32. Each layer uses its copy only while bf16 autocast is on,
    so code that evaluates the model without autocast meanwhile sees the fp32 weights, and on
    exit the fp32 parameters are back in place (tied embeddings tied again).
    """
    copies = [(layer, _Bf16Copy(layer)) for layer in _frozen_fp32_linears(model)] if enabled else []
    hooks = [layer.register_forward_pre_hook(copy) for layer, copy in copies]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()
        for layer, copy in copies:
            layer.weight, layer.bias = copy.fp32


# The longest sequence for which `train.attention: auto` trains with eager attention on a CPU
# under bf16: eager keeps each layer's batch x heads x length x length probabilities for the
# backward, which grows with the square of the length.
EAGER_ATTENTION_MAX_TOKENS = 512


def training_attention(setting: str, device: torch.device, bf16: bool, max_tokens: int) -> str:
    """The attention implementation of training steps; "model" keeps the model's own.

    auto: eager on a CPU under bf16 autocast for sequences up to EAGER_ATTENTION_MAX_TOKENS,
    where PyTorch's CPU flash-attention kernel is slower in bf16 (docs/PERFORMANCE.md).
    """
    if setting != "auto":
        return setting
    cpu_bf16 = device.type == "cpu" and bf16 and max_tokens <= EAGER_ATTENTION_MAX_TOKENS
    return "eager" if cpu_bf16 else "model"


@contextmanager
def attention_for_training(model: Any, implementation: str) -> Iterator[None]:
    """Run forwards in train mode (the training steps) with `implementation` inside the block.

    Forwards in eval mode (validation and goal evaluations during training) keep the model's own
    attention, so what they score does not depend on this setting; it is back on exit.
    """
    lm = causal_lm(model)
    # every config the modules read (a multimodal model nests its text model's)
    configs = list({id(m.config): m.config for m in lm.modules() if hasattr(m, "config")}.values())
    own = [config._attn_implementation for config in configs]
    if implementation == "model" or all(name == implementation for name in own):
        yield
        return

    def choose(module: Any, args: Any) -> None:
        for config, name in zip(configs, own, strict=True):
            config._attn_implementation = implementation if module.training else name

    # the supervised-only loss calls the decoder inside the *ForCausalLM module directly
    entries = {id(m): m for m in (lm, getattr(lm, "base_model", lm))}.values()
    hooks = [module.register_forward_pre_hook(choose) for module in entries]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()
        for config, name in zip(configs, own, strict=True):
            config._attn_implementation = name
