"""What one greedy decode step costs as the batch grows (the embedded model, fp32, KV cache).

    .venv/bin/python benchmarks/decode_step_cost.py   # -> benchmarks/results/decode_step_cost.json

For each batch size the script prefills random prompts of 80 tokens, then times single-token
decode steps with the KV cache and reports the median step and its cost per row. Where the step
cost barely grows with the rows (weights streamed from memory once per step, whatever the rows),
keeping batches full saves time; where it grows in proportion, only dropping finished rows does.
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

from goaltune.config import ModelConfig
from goaltune.models import load_model_and_tokenizer


@torch.no_grad()
def decode_step_ms(model: Any, rows: int, prompt_tokens: int, steps: int) -> list[float]:
    """Milliseconds of each of `steps` decode steps after prefilling `rows` random prompts."""
    generator = torch.Generator().manual_seed(rows)
    ids = torch.randint(
        100, model.config.vocab_size - 100, (rows, prompt_tokens), generator=generator
    )
    mask = torch.ones_like(ids)
    out = model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
    cache, times = out.cache, []
    for _ in range(steps):
        token = out.logits[:, -1].argmax(-1)[:, None]
        mask = torch.cat([mask, mask.new_ones(rows, 1)], dim=-1)
        start = time.perf_counter()
        out = model(input_ids=token, attention_mask=mask, cache=cache, use_cache=True)
        times.append(1000 * (time.perf_counter() - start))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1,4,8,16,32,64", help="batch sizes (comma-separated)")
    parser.add_argument("--steps", type=int, default=12, help="decode steps timed per batch size")
    parser.add_argument("--prompt-tokens", type=int, default=80)
    parser.add_argument("--out", type=Path, default=RESULTS / "decode_step_cost.json")
    args = parser.parse_args()
    info = machine()
    model, _ = load_model_and_tokenizer(ModelConfig())
    model.eval()
    results = []
    for rows in [int(value) for value in args.rows.split(",")]:
        times = decode_step_ms(model, rows, args.prompt_tokens, args.steps)
        median = statistics.median(times)
        results.append(
            {
                "rows": rows,
                "median_step_ms": round(median, 1),
                "ms_per_row": round(median / rows, 2),
                "steps_ms": [round(t, 1) for t in times],
            }
        )
        log(f"{rows:>3} rows: median decode step {median:.1f} ms, {median / rows:.2f} ms per row")
    report = {
        "command": " ".join(sys.argv),
        "machine": info,
        "model": "smollm2-135m-instruct",
        "prompt_tokens": args.prompt_tokens,
        "steps": args.steps,
        "batches": results,
        "load_average_at_end": list(os.getloadavg()),
    }
    log(f"wrote {write_json(args.out, report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
