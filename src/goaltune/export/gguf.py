"""A merged model as a llama.cpp GGUF file, with an Ollama Modelfile beside it."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from goaltune.adapters import RunModel
from goaltune.config import RunConfig
from goaltune.errors import GoaltuneError
from goaltune.export.merge import check_target
from goaltune.models import resolve_model
from goaltune.run_folder import atomic_write_text

GGUF_TYPES = ("f16", "q8_0")
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CHATML_OLLAMA_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)
# llama.cpp tensor names of a Llama decoder block, by the Transformers module path.
LLAMA_BLOCK_TENSORS = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
LLAMA_TOP_TENSORS = {
    "model.embed_tokens": "token_embd",
    "model.norm": "output_norm",
    "lm_head": "output",
}


def _llama_config(config: Any) -> Any:
    architectures = getattr(config, "architectures", None) or []
    if config.model_type != "llama" or "LlamaForCausalLM" not in architectures:
        raise GoaltuneError(
            f"GGUF export supports llama-family models (LlamaForCausalLM: SmolLM2, Llama); this "
            f"model is {config.model_type} ({', '.join(architectures) or 'unknown class'}); "
            "use --merged and convert it with llama.cpp's convert_hf_to_gguf.py"
        )
    rope = getattr(config, "rope_parameters", None) or {}
    rope_type = rope.get("rope_type", "default")
    if rope_type != "default":
        raise GoaltuneError(f"GGUF export: rope scaling '{rope_type}' is not supported")
    if config.hidden_act != "silu":
        raise GoaltuneError(f"GGUF export: activation '{config.hidden_act}' is not supported")
    return config


def _head_dim(config: Any) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _rope_theta(config: Any) -> float:
    rope = getattr(config, "rope_parameters", None) or {}
    return float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0)))


def _add_architecture(writer: Any, config: Any) -> None:
    head_dim = _head_dim(config)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads or config.num_attention_heads)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    if head_dim * config.num_attention_heads != config.hidden_size:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)


def _tokenizer_json(tokenizer: Any) -> dict[str, Any]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise GoaltuneError("GGUF export needs a fast (tokenizers) tokenizer")
    spec = json.loads(backend.to_str())
    decoder = spec.get("decoder") or {}
    if spec["model"].get("type") != "BPE" or decoder.get("type") != "ByteLevel":
        raise GoaltuneError(
            "GGUF export supports byte-level BPE tokenizers (GPT-2 style) only; "
            "this one is not (e.g. a sentencepiece Llama 2 tokenizer)"
        )
    return spec


def _pre_tokenizer_name(spec: dict[str, Any], source_gguf: Path | None) -> str:
    """llama.cpp's name for how text is split before BPE (`tokenizer.ggml.pre`)."""
    if source_gguf is not None:
        from gguf import GGUFReader

        field = GGUFReader(source_gguf).fields.get("tokenizer.ggml.pre")
        if field is not None:
            return str(field.contents())
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [step.get("type") for step in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits"):
        return "smollm"
    if kinds[:1] == ["Split"] and steps[0].get("pattern", {}).get("Regex") == LLAMA3_SPLIT:
        return "llama-bpe"
    raise GoaltuneError(
        f"GGUF export: unknown pre-tokenizer {kinds}; llama.cpp would split "
        "text differently than the model was trained on"
    )


def _vocabulary(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int]]:
    """Tokens by id and their llama.cpp types; ids the model has beyond the tokenizer are pads."""
    from gguf import TokenType

    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for index in range(max(vocab_size, len(by_id))):
        if index not in by_id:
            tokens.append(f"[PAD{index}]")
            types.append(TokenType.UNUSED)
        elif index in added:
            tokens.append(by_id[index])
            types.append(TokenType.CONTROL if added[index].special else TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[index])
            types.append(TokenType.NORMAL)
    return tokens, [int(t) for t in types]


def _adds_bos(tokenizer: Any) -> bool:
    ids = tokenizer("a")["input_ids"]
    return tokenizer.bos_token_id is not None and bool(ids) and ids[0] == tokenizer.bos_token_id


def _add_tokenizer(writer: Any, tokenizer: Any, vocab_size: int, source_gguf: Path | None) -> None:
    spec = _tokenizer_json(tokenizer)
    tokens, types = _vocabulary(tokenizer, vocab_size)
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer_name(spec, source_gguf))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    special = {
        "bos": tokenizer.bos_token_id,
        "eos": tokenizer.eos_token_id,
        "pad": tokenizer.pad_token_id,
        "unk": tokenizer.unk_token_id,
    }
    for name, token_id in special.items():
        if token_id is not None:
            getattr(writer, f"add_{name}_token_id")(token_id)
    writer.add_add_bos_token(_adds_bos(tokenizer))
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)


def _gguf_name(hf_name: str) -> tuple[str, str]:
    """(llama.cpp tensor name, HF module suffix) for a Llama state-dict key."""
    module, _, kind = hf_name.rpartition(".")
    if module in LLAMA_TOP_TENSORS:
        return f"{LLAMA_TOP_TENSORS[module]}.{kind}", module
    match = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", module)
    if match and match.group(2) in LLAMA_BLOCK_TENSORS:
        return f"blk.{match.group(1)}.{LLAMA_BLOCK_TENSORS[match.group(2)]}.{kind}", match.group(2)
    raise GoaltuneError(f"GGUF export: no llama.cpp name for tensor {hf_name}")


def permute_for_llama_cpp(weights: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder q/k rows from Transformers' rotate-half RoPE layout to llama.cpp's interleaved one
    (the inverse of what Transformers' GGUF loader undoes)."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def llama_tensors(model: Any) -> Iterator[tuple[str, np.ndarray]]:
    """(llama.cpp name, float32 array) for every weight of a Llama model, q/k permuted."""
    config = model.config
    kv_heads = config.num_key_value_heads or config.num_attention_heads
    for hf_name, tensor in model.state_dict().items():
        if hf_name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        name, module = _gguf_name(hf_name)
        data = tensor.detach().float().cpu().numpy()
        if module == "self_attn.q_proj":
            data = permute_for_llama_cpp(data, config.num_attention_heads)
        elif module == "self_attn.k_proj":
            data = permute_for_llama_cpp(data, kv_heads)
        yield name, data


def _encode_tensor(data: np.ndarray, qtype: str) -> tuple[np.ndarray, Any]:
    """The bytes to store and their GGML type: norms stay F32, matrices F16 or Q8_0."""
    from gguf import GGMLQuantizationType, quants

    if data.ndim == 1:
        return data.astype(np.float32), GGMLQuantizationType.F32
    if qtype == "q8_0":
        try:
            return quants.quantize(data, GGMLQuantizationType.Q8_0), GGMLQuantizationType.Q8_0
        except quants.QuantError:
            pass  # a row length that is not a multiple of the block size: keep it F16
    return data.astype(np.float16), GGMLQuantizationType.F16


def _source_gguf(config: RunConfig) -> Path | None:
    resolved = resolve_model(config.model.name_or_path)
    return Path(resolved.location) if resolved.kind == "gguf" else None


def write_gguf(
    merged: RunModel, out_file: str | Path, qtype: str = "f16", overwrite: bool = False
) -> Path:
    """Write the merged model as a llama.cpp GGUF file (plus an Ollama Modelfile beside it)."""
    from gguf import GGML_QUANT_VERSION, GGUFWriter, LlamaFileType

    if qtype not in GGUF_TYPES:
        raise GoaltuneError(f"--type {qtype}: choose one of {', '.join(GGUF_TYPES)}")
    out_file = Path(out_file)
    check_target(out_file, overwrite)
    config = _llama_config(merged.model.config)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_name(f".{out_file.name}.partial")
    writer = GGUFWriter(partial, "llama")
    try:
        writer.add_name(merged.config.name)
        file_type = {"f16": LlamaFileType.MOSTLY_F16, "q8_0": LlamaFileType.MOSTLY_Q8_0}[qtype]
        writer.add_file_type(file_type)
        writer.add_quantization_version(GGML_QUANT_VERSION)
        _add_architecture(writer, config)
        _add_tokenizer(writer, merged.tokenizer, config.vocab_size, _source_gguf(merged.config))
        for name, data in llama_tensors(merged.model):
            encoded, ggml_type = _encode_tensor(data, qtype)
            writer.add_tensor(name, encoded, raw_dtype=ggml_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(partial, out_file)
    finally:
        writer.close()
        partial.unlink(missing_ok=True)
    write_modelfile(out_file, merged)
    return out_file


def _default_system_prompt(template: str) -> str | None:
    match = re.search(r"<\|im_start\|>system\n(.+?)<\|im_end\|>", template, re.DOTALL)
    return match.group(1) if match else None


def modelfile_text(
    gguf_name: str, template: str | None, eos_token: str | None, system_prompt: str | None
) -> str:
    """An Ollama Modelfile: FROM the GGUF, a Go TEMPLATE for ChatML chat templates, stops."""
    lines = [f"FROM ./{gguf_name}", ""]
    stops = [eos_token] if eos_token else []
    if template and "<|im_start|>" in template and "<|im_end|>" in template:
        lines += [f'TEMPLATE """{CHATML_OLLAMA_TEMPLATE}"""', ""]
        stops = ["<|im_start|>", "<|im_end|>"] + [s for s in stops if s != "<|im_end|>"]
        system_prompt = system_prompt or _default_system_prompt(template)
    else:
        lines += [
            "# No TEMPLATE derived: Ollama uses the GGUF's chat template if it recognises it;",
            "# otherwise add a TEMPLATE matching tokenizer.chat_template.",
            "",
        ]
    if system_prompt:
        lines += [f'SYSTEM """{system_prompt}"""', ""]
    lines += [f'PARAMETER stop "{stop}"' for stop in stops]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_modelfile(gguf_file: Path, merged: RunModel) -> Path:
    """Write `Modelfile` beside the GGUF file (`ollama create NAME -f Modelfile`)."""
    text = modelfile_text(
        gguf_file.name,
        merged.tokenizer.chat_template,
        merged.tokenizer.eos_token,
        merged.config.data.system_prompt,
    )
    path = gguf_file.with_name("Modelfile")
    atomic_write_text(path, text)
    return path
