"""Data mixing against forgetting: blend general instruction data into the training set.

Each `data.mix` source makes up its `weight` of the final training set; the main data keeps the
rest. Records are sampled with a seeded generator, without replacement unless a source is too small.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from goaltune.config import DataConfig, MixSource
from goaltune.data.formats import Example, normalize_all
from goaltune.data.loading import RawRecord, read_records


@dataclass
class Blend:
    """The training examples after mixing, the sampled records and what was mixed (stats)."""

    examples: list[Example]
    records: list[RawRecord] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def mix_counts(main_count: int, weights: list[float]) -> list[int]:
    """Examples to draw from each source so that each is `weight` of the blended total."""
    total = main_count / (1.0 - sum(weights))
    return [round(weight * total) for weight in weights]


def sample_records(records: list[RawRecord], count: int, seed: str) -> tuple[list[RawRecord], bool]:
    """`count` records drawn with a seeded generator; with replacement only when too few exist."""
    rng = random.Random(seed)
    if count <= len(records):
        return rng.sample(records, count), False
    return rng.choices(records, k=count), True


def _draw(
    source: MixSource, count: int, seed: int, system_prompt: str | None
) -> tuple[list[Example], list[RawRecord], dict[str, Any]]:
    available = read_records(source.path, split="train")
    drawn, repeated = sample_records(available, count, f"mix:{seed}:{source.path}")
    examples: list[Example] = []
    data_format = "-"
    if drawn:
        examples, data_format = normalize_all(drawn, source.format, system_prompt)
    stats = {
        "source": source.path,
        "weight": source.weight,
        "examples": len(examples),
        "available": len(available),
        "with_replacement": repeated,
        "format": data_format,
    }
    return examples, drawn, stats


def blend_sources(main: list[Example], data: DataConfig, seed: int) -> Blend:
    """Main examples plus the `data.mix` sources in their ratios; no-op without a mix."""
    if not data.mix:
        return Blend(main)
    weights = [source.weight for source in data.mix]
    blend = Blend(list(main))
    shares = [{"source": data.train, "weight": round(1.0 - sum(weights), 6), "examples": len(main)}]
    for source, count in zip(data.mix, mix_counts(len(main), weights)):
        examples, drawn, stats = _draw(source, count, seed, data.system_prompt)
        blend.examples += examples
        blend.records += drawn
        shares.append(stats)
    blend.stats = {"mix": {"sources": shares, "total_examples": len(blend.examples)}}
    return blend
