"""Config validation: TRL/PEFT names, defaults, and errors that name the key path."""

from pathlib import Path

import pytest

from goaltune.config import (
    RunConfig,
    config_from_dict,
    dump_config,
    get_by_path,
    load_config,
    resolve_key_path,
)
from goaltune.errors import ConfigError


def test_defaults_use_the_names_users_know() -> None:
    config = RunConfig()
    assert config.lora.r == 16 and config.lora.lora_alpha == 32
    assert config.train.per_device_train_batch_size == 8
    assert config.model.trust_remote_code is False
    assert "gradient_accumulation_steps" in dump_config(config)


def test_unknown_key_names_its_path() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'lora\.rank'"):
        config_from_dict({"lora": {"rank": 8}}, source="x.yaml")


def test_wrong_type_names_path_and_value() -> None:
    with pytest.raises(ConfigError, match=r"train\.learning_rate.*'fast'"):
        config_from_dict({"train": {"learning_rate": "fast"}})


def test_short_keys_resolve_to_their_section() -> None:
    assert resolve_key_path("num_train_epochs") == "train.num_train_epochs"
    assert resolve_key_path("r") == "lora.r"
    assert resolve_key_path("lora.r") == "lora.r"
    with pytest.raises(ConfigError, match="unknown config key 'nope'"):
        resolve_key_path("nope")


def test_load_config_applies_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: demo\nlora:\n  r: 4\n")
    config = load_config(path, {"lora.r": 8, "num_train_epochs": 3})
    assert config.lora.r == 8 and config.train.num_train_epochs == 3
    assert get_by_path(config, "num_train_epochs") == 3
    assert get_by_path(config, "model") == "smollm2-135m-instruct"


def test_missing_and_invalid_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lora: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "json-api.yaml"
    config = load_config(example)
    assert config.goal.task_metrics[0].name == "json_valid"


def test_benchmarks_as_yaml_mappings_become_their_string_specs(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "eval:\n  benchmarks:\n    - arc_easy\n"
        "    - {name: gsm8k, num_fewshot: 5, apply_chat_template: false}\n"
        "    - {name: mc, path: mc.jsonl, style: cloze}\n"
        "    - {name: 'qa:qa.jsonl:max_gen_toks=8', extract: 'A: (.+)', primary: f1}\n"
        "goal:\n  guard_benchmarks: [{name: builtin:ifeval-mini, max_gen_toks: 64}]\n"
    )
    config = load_config(path)
    assert config.eval.benchmarks == [
        "arc_easy",
        "gsm8k:num_fewshot=5,apply_chat_template=false",
        "mc:mc.jsonl:style=cloze",
        "qa:qa.jsonl:max_gen_toks=8,primary=f1,extract=A: (.+)",
        "builtin:ifeval-mini:max_gen_toks=64",
    ]
    with pytest.raises(ConfigError, match="eval.benchmarks: .*needs a 'name'"):
        config_from_dict({"eval": {"benchmarks": [{"num_fewshot": 5}]}})
    with pytest.raises(ConfigError, match="'path' is an option of the file benchmarks"):
        config_from_dict({"eval": {"benchmarks": [{"name": "gsm8k", "path": "x.jsonl"}]}})
