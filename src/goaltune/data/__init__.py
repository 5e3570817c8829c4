"""Training data and held-out task items: load -> normalize (messages) -> template + labels.

`prepare_training_data` gives encoded train/validation sets with statistics and a fingerprint;
`load_task_items` gives the held-out prompts (with references) for before/after evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from goaltune.config import DataConfig, TrainConfig
from goaltune.data.encoding import Encoded, encode_dataset, split_examples
from goaltune.data.formats import Example, normalize_all
from goaltune.data.loading import fingerprint, read_records
from goaltune.data.mixing import blend_sources
from goaltune.data.references import canonical_references
from goaltune.errors import DataError


@dataclass
class PreparedData:
    """Encoded training and validation examples, plus what happened on the way."""

    train: list[Encoded]
    validation: list[Encoded]
    validation_examples: list[Example]
    data_format: str
    fingerprint: str
    stats: dict[str, Any] = field(default_factory=dict)
    train_examples: list[Example] = field(default_factory=list)  # after mixing, before encoding


def prepare_training_data(data: DataConfig, train: TrainConfig, tokenizer: Any) -> PreparedData:
    """Load, normalize, split and encode the training data as the config says."""
    records = read_records(data.train, split="train")
    if data.max_train_examples:
        records = records[: data.max_train_examples]
    examples, data_format = normalize_all(records, data.format, data.system_prompt)
    if data.validation:
        val_records = read_records(data.validation, split="train")
        val_examples, _ = normalize_all(val_records, data.format, data.system_prompt)
        train_examples = examples
    else:
        train_examples, val_examples = split_examples(examples, data.validation_split, train.seed)
    encode = {
        "tokenizer": tokenizer,
        "max_seq_length": train.max_seq_length,
        "train_on": data.train_on,
        "truncation": data.truncation,
    }
    blend = blend_sources(train_examples, data, train.seed)  # validation stays main data only
    train_set, train_stats = encode_dataset(blend.examples, **encode)
    val_set, val_stats = encode_dataset(val_examples, **encode) if val_examples else ([], None)
    return PreparedData(
        train=train_set,
        validation=val_set,
        validation_examples=val_examples,
        data_format=data_format,
        fingerprint=fingerprint(records + blend.records),
        stats={
            "source": data.train,
            "validation_source": data.validation or f"split {data.validation_split}",
            "records": len(records),
            "train_examples": len(train_set),
            "validation_examples": len(val_set),
            "train": train_stats.to_dict(),
            "validation": val_stats.to_dict() if val_stats else None,
            "supervised_tokens": sum(e.supervised_tokens for e in train_set),
            "tokens": sum(len(e.input_ids) for e in train_set),
            **blend.stats,
        },
        train_examples=blend.examples,
    )


def _item_from_example(example: Example, index: int) -> dict[str, Any]:
    messages = example.messages
    if not messages:
        raise DataError(f"{example.location}: plain-text records cannot be task test items")
    item = {"id": f"item-{index:04d}", "reference": None, **example.extra}
    if messages[-1]["role"] == "assistant":
        item["reference"], messages = messages[-1]["content"], messages[:-1]
    if not any(m["role"] == "user" for m in messages):
        raise DataError(f"{example.location}: a test item needs a user prompt")
    item["messages"] = messages
    return item


def load_task_items(
    data: DataConfig, validation_examples: list[Example] | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Held-out items: the `data.test` source, a built-in's test split, or the validation split."""
    if data.test:
        records = canonical_references(read_records(data.test, split="test"))
        examples, _ = normalize_all(records, data.format, data.system_prompt)
    elif data.train.startswith("builtin:"):
        examples, _ = normalize_all(
            read_records(data.train, split="test"), "messages", data.system_prompt
        )
    elif validation_examples:
        examples = validation_examples
    else:
        raise DataError("no held-out items to evaluate: set data.test or data.validation_split")
    items = [_item_from_example(e, i) for i, e in enumerate(examples, start=1)]
    return items[:limit] if limit else items
