"""Eager against SDPA attention in goaltune's training step, interleaved in one process.

    .venv/bin/python benchmarks/attention_ab.py   # -> benchmarks/results/attention_ab.json

The demo's model, data, LoRA and batch size; each batch is trained once with each attention
implementation, alternating which goes first, so a drift of the machine's speed during the run
(which moves back-to-back runs by 20% here) falls on both alike. bf16 autocast with the
bf16-resident base where the CPU has native bf16, else fp32. This is the measurement behind
`train.attention: auto` (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, log, machine, write_json
from _figures import REPO

from goaltune.adapters import build_lora_model
from goaltune.config import load_config
from goaltune.data import prepare_training_data
from goaltune.data.encoding import collate
from goaltune.hardware import bf16_frozen_base, cpu_supports_bf16
from goaltune.loss import causal_lm, token_loss_sum

MODES = ("sdpa", "eager")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the batches")
    parser.add_argument("--batches", type=int, default=10, help="batches of 4, across lengths")
    parser.add_argument("--out", type=Path, default=RESULTS / "attention_ab.json")
    args = parser.parse_args()
    info = machine()
    from goaltune.models import load_model_and_tokenizer

    config = load_config(REPO / "examples" / "json-api.yaml")
    model, tokenizer = load_model_and_tokenizer(config.model)
    data = prepare_training_data(config.data, config.train, tokenizer)
    model = build_lora_model(model, config.lora)
    model.train()
    examples = sorted(data.train, key=lambda e: len(e.input_ids))
    spacing = len(examples) // args.batches
    batches = [
        collate(examples[i : i + 4], tokenizer.pad_token_id)
        for i in range(0, spacing * args.batches, spacing)
    ]
    bf16 = cpu_supports_bf16()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5, foreach=True)
    lm = causal_lm(model)

    def step(batch: dict[str, torch.Tensor]) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, count = token_loss_sum(model, batch, True)
        (loss / count).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    with bf16_frozen_base(model, bf16):
        step(batches[0])  # warm-up, not timed
        for round_index in range(args.rounds):
            for batch in batches:
                order = MODES if round_index % 2 == 0 else MODES[::-1]
                for mode in order:
                    lm.config._attn_implementation = mode
                    times[mode].append(step(batch))
            log(
                f"round {round_index + 1}: "
                + ", ".join(f"{m} {sum(times[m]):.1f} s" for m in MODES)
            )
    modes: dict[str, Any] = {
        mode: {
            "steps": len(values),
            "total_s": round(sum(values), 2),
            "median_step_s": round(statistics.median(values), 3),
        }
        for mode, values in times.items()
    }
    report = {
        "command": " ".join(sys.argv),
        "machine": info,
        "precision": "bf16 (bf16-resident base)" if bf16 else "fp32",
        "tokens_per_step": round(
            sum(int(b["input_ids"].numel()) for b in batches) / len(batches), 1
        ),
        "modes": modes,
        "eager_speedup": round(modes["sdpa"]["total_s"] / modes["eager"]["total_s"], 3),
        "load_average_at_end": list(os.getloadavg()),
    }
    log(f"eager {report['eager_speedup']}x sdpa; wrote {write_json(args.out, report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
