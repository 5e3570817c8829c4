"""`goaltune init`: look at the data and write a commented starting config.

The data is read with goaltune's own readers and tokenized with the chosen model's tokenizer, so
every figure in the written config's comments is what `goaltune run` will see. The rules that
turn figures into settings are the functions below; docs/TRAINING.md lists them.
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from goaltune.config import ModelConfig, config_from_dict
from goaltune.data.encoding import encode_example
from goaltune.data.formats import Example, normalize_all
from goaltune.data.loading import read_records
from goaltune.data.references import canonical_references
from goaltune.errors import ConfigError, DataError
from goaltune.evaluate.metrics import strict_json

GUARDS = ["builtin:ifeval-mini", "builtin:mc-mini"]
TOKENS_PER_BATCH = 4096  # the defaults' 8 x 512: fits a 135M-360M model on a laptop CPU
TARGET_STEPS = 100  # optimizer steps the json-api demo needed (114) to reach its goal
MAX_EPOCHS = 3  # more passes over a small set mostly memorizes it
FEW_STEPS_LR, MANY_STEPS_LR, FEW_STEPS = 5.0e-4, 2.0e-4, 300
JSON_SHARE = 0.9  # share of completions that must parse for the data to count as JSON
LABEL_CHARS = 40  # a label is short ...
LABEL_REPEAT = 3  # ... and each distinct value appears about this often or more
LINE_WIDTH = 100


@dataclass
class Profile:
    """What init measured: formats, counts, token lengths and the kind of the references."""

    train_source: str
    test_source: str | None
    data_format: str
    records: int
    test_items: int
    lengths: list[int]  # tokens per training example, chat template included
    reply_lengths: list[int]  # tokens per reference completion (what generation must produce)
    kind: str  # "json" | "labels" | "text"
    distinct: int  # distinct reference values
    json_share: float
    consistent_keys: list[str] | None  # the one top-level key set every JSON object has
    has_schema: bool  # every test item carries a `schema` object


def _percentile(values: list[int], q: float) -> int:
    """The q-th percentile as one of the values (no interpolation above the data)."""
    return int(np.percentile(values, q, method="higher"))


def _references(examples: list[Example]) -> list[str]:
    return [e.messages[-1]["content"] for e in examples if e.messages[-1:]]


def _json_profile(references: list[str]) -> tuple[float, list[str] | None]:
    """Share of references that parse as a JSON object or array; their shared key set, if any."""
    parsed = [value for ok, value in map(strict_json, references) if ok]
    parsed = [value for value in parsed if isinstance(value, (dict, list))]
    share = len(parsed) / len(references) if references else 0.0
    keys = {tuple(sorted(value)) for value in parsed if isinstance(value, dict)}
    objects = all(isinstance(value, dict) for value in parsed)
    return share, list(next(iter(keys))) if objects and len(keys) == 1 and parsed else None


def reference_kind(references: list[str]) -> tuple[str, int]:
    """("json" | "labels" | "text", distinct values).

    JSON: at least JSON_SHARE of the references parse whole as an object or array. Labels: every
    reference is at most LABEL_CHARS characters and there are at most a third as many distinct
    values as references (so each value repeats). Anything else is free text.
    """
    distinct = len({" ".join(r.split()) for r in references})
    if references and _json_profile(references)[0] >= JSON_SHARE:
        return "json", distinct
    short = all(len(r.strip()) <= LABEL_CHARS for r in references)
    if references and short and distinct <= max(2, len(references) // LABEL_REPEAT):
        return "labels", distinct
    return "text", distinct


def _load(source: str, split: str, test: bool) -> tuple[list[Example], str]:
    records = read_records(source, split=split)
    return normalize_all(canonical_references(records) if test else records)


def profile_data(data: str, test: str | None, tokenizer: Any) -> Profile:
    """Read the training (and test) data and measure it with `tokenizer`."""
    examples, data_format = _load(data, "train", test=False)
    if data_format == "text" and test is None:
        raise DataError(
            f"{data}: plain-text records have no prompts to evaluate before and after; "
            "give --test FILE with prompt + reference records"
        )
    test_examples = _load(test, "test", test=True)[0] if test else []
    lengths = [len(encode_example(e, tokenizer).input_ids) for e in examples]
    references = _references(test_examples or examples)
    if not references:
        raise DataError(f"{test or data}: no reference answers to choose task metrics from")
    replies = [len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in references]
    kind, distinct = reference_kind(references)
    share, keys = _json_profile(references)
    schemas = [e.extra.get("schema") for e in test_examples]
    return Profile(
        train_source=data,
        test_source=test,
        data_format=data_format,
        records=len(examples),
        test_items=len(test_examples),
        lengths=lengths,
        reply_lengths=replies,
        kind=kind,
        distinct=distinct,
        json_share=share,
        consistent_keys=keys,
        has_schema=bool(schemas) and all(isinstance(s, dict) for s in schemas),
    )


@dataclass
class Setting:
    """One key of the written config, its value and why init chose it."""

    key: str
    value: Any
    why: str = ""


@dataclass
class Section:
    name: str
    settings: list[Setting] = field(default_factory=list)
    note: str = ""

    def add(self, key: str, value: Any, why: str = "") -> None:
        self.settings.append(Setting(key, value, why))


def suggest_metrics(profile: Profile) -> tuple[list[str], str]:
    """Task metrics for the kind of references, and the reason as a comment."""
    n = len(profile.reply_lengths)
    if profile.kind == "json":
        metrics = ["json_valid"]
        metrics += ["json_schema"] if profile.has_schema else []
        metrics += ["field_accuracy"] if profile.consistent_keys else []
        keys = profile.consistent_keys
        why = f"{profile.json_share:.0%} of {n} references parse as JSON" + (
            f", all objects with keys {', '.join(keys)}" if keys else ""
        )
        return metrics, why + ("; test items carry a 'schema'" if profile.has_schema else "")
    if profile.kind == "labels":
        return ["exact_match"], f"{n} references take {profile.distinct} short values (labels)"
    return ["rouge_l", "chrf"], f"{n} references are free text ({profile.distinct} distinct)"


def _round_up(value: float, multiple: int) -> int:
    return max(multiple, math.ceil(value / multiple) * multiple)


def _power_of_two_at_most(value: float) -> int:
    return 2 ** max(0, int(math.floor(math.log2(max(value, 1)))))


def _train_count(profile: Profile, validation_split: float) -> int:
    if validation_split <= 0:
        return profile.records
    return profile.records - max(round(profile.records * validation_split), 1)


def _validation_split(profile: Profile) -> tuple[float, str]:
    if profile.test_source:
        return 0.1, "10% held out for the validation loss (task items come from --test)"
    share = min(0.3, max(0.1, 30 / profile.records))
    share = math.ceil(share * 100) / 100
    return share, "no --test: the held-out share is also the task's test set (about 30 items)"


def training_section(profile: Profile) -> tuple[Section, Section]:
    """The data and train sections: split, sequence length, batch size, epochs, learning rate."""
    data = Section("data")
    data.add("train", profile.train_source, f"{profile.records} records, {profile.data_format}")
    if profile.test_source:
        data.add("test", profile.test_source, f"{profile.test_items} held-out task items")
    split, why = _validation_split(profile)
    data.add("validation_split", split, why)
    data.add("train_on", "completions", "loss on the assistant's tokens only (or: all)")
    train = Section("train")
    lengths = profile.lengths
    p50, p99, longest = (_percentile(lengths, q) for q in (50, 99, 100))
    seq = _round_up(p99, 64)
    cut = sum(1 for n in lengths if n > seq)
    train_count = _train_count(profile, split)
    batch = min(16, _power_of_two_at_most(TOKENS_PER_BATCH / seq))
    batch = max(1, min(batch, _power_of_two_at_most(train_count / 8)))
    steps_per_epoch = math.ceil(train_count / batch)
    epochs = min(MAX_EPOCHS, max(1, math.ceil(TARGET_STEPS / steps_per_epoch)))
    steps = steps_per_epoch * epochs
    lr = FEW_STEPS_LR if steps <= FEW_STEPS else MANY_STEPS_LR
    train.add(
        "max_seq_length",
        seq,
        f"p99 of the {len(lengths)} examples is {p99} tokens (median {p50}, longest {longest}), "
        f"rounded up to a multiple of 64; {cut} longer example(s) get truncated",
    )
    train.add(
        "per_device_train_batch_size",
        batch,
        f"~{TOKENS_PER_BATCH} tokens per batch at this length, at least 8 steps per epoch; "
        "raise gradient_accumulation_steps for a larger effective batch",
    )
    train.add(
        "num_train_epochs",
        epochs,
        f"{train_count} training examples = {steps_per_epoch} steps per epoch; enough epochs "
        f"for ~{TARGET_STEPS} steps, at most {MAX_EPOCHS} ({steps} steps)",
    )
    train.add(
        "learning_rate",
        lr,
        f"{steps} steps: {FEW_STEPS_LR:g} up to {FEW_STEPS} steps (the demo's 114 steps used it), "
        f"{MANY_STEPS_LR:g} for longer runs",
    )
    train.add("warmup_ratio", 0.05)
    train.add("lr_scheduler_type", "cosine")
    train.add("eval_steps", max(1, steps // 10), "validation loss about 10 times per run")
    train.add("seed", 42)
    return data, train


def eval_and_goal_sections(profile: Profile) -> tuple[Section, Section]:
    """The eval section (metrics, guards, generation length) and the goal to fill in."""
    metrics, why = suggest_metrics(profile)
    evaluation = Section("eval")
    evaluation.add("metrics", metrics, why)
    evaluation.add("benchmarks", GUARDS, "general-capability guards, scored before and after")
    p99 = _percentile(profile.reply_lengths, 99)
    evaluation.add(
        "max_new_tokens",
        min(1024, _round_up(p99 * 1.25, 16)),
        f"p99 reference is {p99} tokens; 25% headroom, a multiple of 16",
    )
    goal = Section("goal", note="TODO: say what success means; the verdict judges against it")
    goal.add("purpose", "behavior", "TODO: behavior | domain | learning | benchmark")
    goal.add("description", None, "TODO: one sentence on what the fine-tune should achieve")
    goal.add(
        "task_metrics",
        [{"name": metrics[0], "target": None}],
        "TODO: set a target score (0-1) you need, e.g. 0.9",
    )
    goal.add("guard_benchmarks", GUARDS, "these must not drop beyond the thresholds")
    return evaluation, goal


def _scalar(value: Any) -> str:
    # JSON is valid YAML flow syntax and quotes every string that needs it
    return json.dumps(value, ensure_ascii=False)


def render(name: str, model: str, profile: Profile) -> str:
    """The commented YAML text of the suggested config."""
    data, train = training_section(profile)
    evaluation, goal = eval_and_goal_sections(profile)
    model_section = Section("model")
    model_section.add("name_or_path", model, "the tokenizer init measured the lengths with")
    lines = [
        f"# Written by `goaltune init` from {profile.train_source}"
        + (f" and {profile.test_source}" if profile.test_source else "")
        + ". Every comment gives the figure",
        "# the setting came from; edit freely, then `goaltune run` this file.",
        f"name: {_scalar(name)}",
    ]
    for section in (model_section, data, train, evaluation, goal):
        lines.append(f"{section.name}:" + (f"  # {section.note}" if section.note else ""))
        for setting in section.settings:
            line = f"  {setting.key}: {_scalar(setting.value)}"
            if not setting.why:
                lines.append(line)
            elif len(line) + len(setting.why) + 4 <= LINE_WIDTH:
                lines.append(f"{line}  # {setting.why}")
            else:  # a long reason reads better as its own comment lines above the key
                wrapped = textwrap.wrap(setting.why, LINE_WIDTH - 4)
                lines += [f"  # {part}" for part in wrapped] + [line]
    return "\n".join(lines) + "\n"


def _relative(source: str, out: Path) -> str:
    """A file path as seen from the config's folder (where `goaltune run` anchors it)."""
    if source.startswith(("builtin:", "hf:")):
        return source
    return os.path.relpath(Path(source).resolve(), out.resolve().parent)


def config_name(data: str) -> str:
    """The run name for a data source: its file stem, or the built-in's or dataset's name."""
    name = Path(data).stem if not data.startswith(("builtin:", "hf:")) else data.split(":")[1]
    return name.replace("/", "-").replace("_", "-") or "run"


def write_init_config(
    out: Path | None, data: str, test: str | None, model: str, force: bool = False
) -> tuple[Profile, Path]:
    """Measure the data, write the commented config and check that it validates.

    The config goes to `out`, by default `<name>.yaml` in the working folder.
    """
    import yaml

    from goaltune.models import load_tokenizer

    out = out if out is not None else Path(f"{config_name(data)}.yaml")
    if out.exists() and not force:
        raise ConfigError(f"{out}: already exists; pass --force to overwrite it")
    tokenizer = load_tokenizer(ModelConfig(name_or_path=model))
    profile = profile_data(data, test, tokenizer)
    shown = Profile(
        **{
            **profile.__dict__,
            "train_source": _relative(data, out),
            "test_source": _relative(test, out) if test else None,
        }
    )
    shown_model = _relative(model, out) if Path(model).expanduser().exists() else model
    text = render(config_name(data), shown_model, shown)
    config_from_dict(yaml.safe_load(text), source=str(out))  # never write what run would refuse
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return profile, out
