"""Use a run's result elsewhere: a merged Transformers folder, a GGUF file, or a Hub upload."""

from goaltune.export.gguf import (
    GGUF_TYPES,
    llama_tensors,
    modelfile_text,
    permute_for_llama_cpp,
    write_gguf,
    write_modelfile,
)
from goaltune.export.hub import hub_base_model, model_card, prepare_hub_folder, push_to_hub
from goaltune.export.merge import check_target, save_merged

__all__ = [
    "GGUF_TYPES",
    "check_target",
    "hub_base_model",
    "llama_tensors",
    "model_card",
    "modelfile_text",
    "permute_for_llama_cpp",
    "prepare_hub_folder",
    "push_to_hub",
    "save_merged",
    "write_gguf",
    "write_modelfile",
]
