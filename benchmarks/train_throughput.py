"""Training throughput: goaltune's loop against TRL's SFTTrainer with a PEFT LoRA config.

Both tools train the same LoRA (rank, alpha, targets from the config) on the same encoded
examples (builtin:json-api through goaltune's data code, completion-only labels), with the same
batch size, accumulation, learning-rate schedule, number of optimizer steps, seed and max length.
Every training example is used exactly once (steps x batch = examples), so both tools process
exactly the same input and supervised tokens. Periodic validation is off in both; the final
training and validation losses are then computed for both trained models by one function.
Each tool runs in its own subprocess (peak RSS per tool). TRL is tried with its defaults
(bf16=True, gradient checkpointing), in fp32, and in fp32 without gradient checkpointing with
random and length-grouped sampling; the fastest TRL setting is the reference. MFU counts the
FLOPs frozen-base LoRA training needs for these tokens (see `model_flops`) over the best matmul
rate measured in the same run for the precision used.

    .venv/bin/python benchmarks/train_throughput.py --quick     # a few minutes
    .venv/bin/python benchmarks/train_throughput.py             # one epoch of the demo data
    .venv/bin/python benchmarks/train_throughput.py --levers    # what each goaltune default buys
    .venv/bin/python benchmarks/train_throughput.py --markdown benchmarks/results/FILE.json

Installs nothing: without TRL it prints the pip command and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REPO,
    RESULTS,
    add_shared_options,
    console,
    log,
    machine,
    matmul_gflops,
    peak_rss_mib,
    run_worker,
    served_without_measuring,
    write_json,
)
from _figures import fmt, ratio

CONFIG = REPO / "examples" / "json-api.yaml"
QUICK_STEPS = 8
LOSS_SAMPLE = 96  # training examples the final training loss is measured on
IGNORE = -100

# TRL settings tried: name -> SFTConfig overrides. SFTConfig defaults to bf16=True and
# gradient_checkpointing=True; fp32 without checkpointing is its fastest setting on a CPU without
# native bf16. A bf16 setting is probed under a time limit: the fastest fp32 TRL run + 60 s (if
# it has not finished by then, it is not the fastest setting).
TRL_VARIANTS: dict[str, dict[str, Any]] = {
    "trl-fp32-nogc-grouped": {
        "bf16": False,
        "gradient_checkpointing": False,
        "train_sampling_strategy": "group_by_length",
    },
    "trl-fp32-nogc": {"bf16": False, "gradient_checkpointing": False},
    "trl-fp32": {"bf16": False},
    "trl-defaults": {},
    # TRL fed goaltune's exact batches in goaltune's order: isolates the implementations.
    "trl-fp32-nogc-goaltune-batches": {
        "bf16": False,
        "gradient_checkpointing": False,
        "train_sampling_strategy": "sequential",
    },
    # bf16 autocast without checkpointing: TRL's fastest setting where the host runs bf16 natively
    "trl-bf16-nogc": {"bf16": True, "gradient_checkpointing": False},
    "trl-bf16-nogc-goaltune-batches": {
        "bf16": True,
        "gradient_checkpointing": False,
        "train_sampling_strategy": "sequential",
    },
}
SAME_BATCHES = "trl-fp32-nogc-goaltune-batches"
QUICK_TRL = [
    "trl-fp32-nogc-grouped",
    "trl-fp32-nogc",
    SAME_BATCHES,
    "trl-defaults",
    "trl-bf16-nogc",
    "trl-bf16-nogc-goaltune-batches",
]

# goaltune levers: name -> (TrainConfig overrides, worker options). Each turns one default off
# (or, for packing, an opt-in on). The bf16 base acts only where bf16 autocast is on.
LEVERS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "defaults": ({}, {}),
    "no supervised-only logits": ({"supervised_logits_only": False}, {}),
    "no length bucketing": ({"length_bucketing": False}, {}),
    "1 torch thread": ({}, {"threads": 1}),
    "OMP_WAIT_POLICY=ACTIVE": ({}, {"env": {"OMP_WAIT_POLICY": "ACTIVE"}}),
    "batch 8 (half the steps)": ({"per_device_train_batch_size": 8}, {"steps_divisor": 2}),
    "gradient checkpointing on": ({"gradient_checkpointing": True}, {}),
    "torch.compile (decoder)": ({}, {"compile": True}),
    "no bf16-resident base": ({"bf16_base": False}, {}),
    "model's own attention (sdpa)": ({"attention": "model"}, {}),
    "packing on": ({"packing": True}, {}),
    "packing on, no length bucketing": ({"packing": True, "length_bucketing": False}, {}),
}


# --- workers (run in their own subprocess) ------------------------------------------------


def _set_threads(job: dict[str, Any]) -> None:
    import torch

    if job.get("threads"):
        torch.set_num_threads(job["threads"])


def _encoded(rows: list[dict[str, list[int]]]) -> list[Any]:
    from goaltune.data.encoding import Encoded

    return [Encoded(row["input_ids"], row["labels"]) for row in rows]


def mean_token_loss(model: Any, rows: list[dict[str, list[int]]], pad_id: int) -> float | None:
    """Mean cross-entropy over the supervised next-token positions of `rows` (batches of 8).

    The same plain computation for every tool's trained model: full logits, fp32, no autocast.
    """
    import torch
    import torch.nn.functional as F

    if not rows:
        return None
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), 8):
            batch = [rows[i] for i in order[start : start + 8]]
            width = max(len(r["input_ids"]) for r in batch)
            ids = torch.tensor(
                [r["input_ids"] + [pad_id] * (width - len(r["input_ids"])) for r in batch]
            )
            labels = torch.tensor(
                [r["labels"] + [IGNORE] * (width - len(r["labels"])) for r in batch]
            )
            mask = torch.tensor(
                [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in batch]
            )
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            targets = labels[:, 1:].to(device)
            keep = targets != IGNORE
            total += float(
                F.cross_entropy(logits[:, :-1][keep].float(), targets[keep], reduction="sum")
            )
            count += int(keep.sum())
    return total / max(count, 1)


def final_losses(model: Any, pad_id: int, job: dict[str, Any]) -> dict[str, float | None]:
    """Loss of a trained model on the training sample and on the validation set."""
    return {
        "final_train_loss": mean_token_loss(model, job["loss_sample"], pad_id),
        "final_val_loss": mean_token_loss(model, job["validation"], pad_id),
    }


def _step_stats(step_ends: list[float], wall: float) -> dict[str, float]:
    durations = [b - a for a, b in zip([0.0, *step_ends], step_ends)]
    steady = sorted(durations[1:]) or durations
    return {
        "wall_s": round(wall, 2),
        "mean_step_s": round(wall / max(len(step_ends), 1), 3),
        "median_step_s": round(steady[len(steady) // 2], 3) if steady else None,
        "first_step_s": round(durations[0], 3) if durations else None,
    }


def worker_goaltune(job: dict[str, Any]) -> dict[str, Any]:
    """goaltune's train_adapter on the job's examples (its defaults unless the job overrides)."""
    import csv

    from goaltune.adapters import build_lora_model
    from goaltune.config import LoraConfig, ModelConfig, TrainConfig
    from goaltune.models import load_model_and_tokenizer
    from goaltune.train import seed_everything, train_adapter

    _set_threads(job)
    model, tokenizer = load_model_and_tokenizer(ModelConfig(name_or_path=job["model_folder"]))
    config = TrainConfig(**{**job["train_config"], **job.get("overrides", {})})
    seed_everything(config.seed)
    lora = build_lora_model(model, LoraConfig(**job["lora"]))
    if job.get("compile"):
        lora.get_base_model().model.compile(dynamic=True)
    with tempfile.TemporaryDirectory() as run_dir:
        started = time.perf_counter()
        result = train_adapter(
            lora, tokenizer, _encoded(job["train"]), [], config, Path(run_dir), show_progress=False
        )
        wall = time.perf_counter() - started
        with (Path(run_dir) / "loss_history.csv").open() as handle:
            rows = list(csv.DictReader(handle))
    peak = peak_rss_mib()
    return {
        "tool": "goaltune",
        "precision": "bf16" if result.bf16 else "fp32",
        "bf16_base": result.bf16_base,
        "attention": result.attention,
        "steps": result.steps,
        "gradient_checkpointing": config.gradient_checkpointing,
        "sampler": "length buckets" if config.length_bucketing else "random",
        "input_tokens": result.input_tokens,
        "supervised_tokens": result.tokens_seen,
        **_step_stats([float(r["elapsed_s"]) for r in rows], wall),
        "logged_final_train_loss": _tail_mean([float(r["train_loss"]) for r in rows]),
        "training_peak_rss_mib": round(peak, 1),
        "parameters": _parameter_split(lora),
        **final_losses(lora, tokenizer.pad_token_id, job),
    }


def _tail_mean(values: list[float]) -> float | None:
    """Mean of the last 10% (at least one) of the step losses a tool logged."""
    if not values:
        return None
    tail = values[-max(1, len(values) // 10) :]
    return sum(tail) / len(tail)


def _parameter_split(model: Any) -> dict[str, int]:
    """Frozen linear weights in the decoder, the LM head, the trainable adapter, and the shape."""
    import torch

    lm = model.get_base_model()
    head = lm.get_output_embeddings().weight.numel()
    body = sum(
        m.weight.numel()
        for n, m in lm.model.named_modules()
        if isinstance(m, torch.nn.Linear) and not n.endswith(("lora_A.default", "lora_B.default"))
    )
    config = lm.config
    return {
        "frozen_linear": body,
        "lm_head": head,
        "adapter": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "layers": config.num_hidden_layers,
        "attention_width": config.num_attention_heads
        * getattr(config, "head_dim", config.hidden_size // config.num_attention_heads),
    }


def worker_trl(job: dict[str, Any]) -> dict[str, Any]:
    """TRL's SFTTrainer with a PEFT LoraConfig on the same tokenized examples."""
    import json

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    _set_threads(job)
    tokenizer = AutoTokenizer.from_pretrained(job["model_folder"])
    model = AutoModelForCausalLM.from_pretrained(job["model_folder"], dtype=torch.float32)
    rows = [job["train"][i] for i in job.get("order") or range(len(job["train"]))]
    dataset = Dataset.from_dict(
        {
            "input_ids": [row["input_ids"] for row in rows],
            "completion_mask": [[int(label != IGNORE) for label in row["labels"]] for row in rows],
        }
    )
    train = job["train_config"]
    progress = Path(job["progress_file"])

    class StepTimer(TrainerCallback):
        """Step end times (from the start of training) and the logged losses."""

        def __init__(self) -> None:
            self.start, self.ends, self.losses = 0.0, [], []

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.start = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.ends.append(time.perf_counter() - self.start)
            progress.write_text(json.dumps({"steps": len(self.ends), "elapsed_s": self.ends[-1]}))

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            if logs and "loss" in logs:
                self.losses.append(float(logs["loss"]))

    with tempfile.TemporaryDirectory() as output_dir:
        args = SFTConfig(
            output_dir=output_dir,
            max_steps=job["steps"],
            per_device_train_batch_size=train["per_device_train_batch_size"],
            gradient_accumulation_steps=train["gradient_accumulation_steps"],
            learning_rate=train["learning_rate"],
            lr_scheduler_type=train["lr_scheduler_type"],
            warmup_steps=job["warmup_steps"],
            weight_decay=train["weight_decay"],
            max_grad_norm=train["max_grad_norm"],
            seed=train["seed"],
            data_seed=train["seed"],
            max_length=train["max_seq_length"],
            completion_only_loss=True,
            logging_steps=1,
            eval_strategy="no",
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=not torch.cuda.is_available(),
            **job.get("trl_overrides", {}),
        )
        lora = job["lora"]
        peft_config = LoraConfig(
            r=lora["r"],
            lora_alpha=lora["lora_alpha"],
            lora_dropout=lora["lora_dropout"],
            target_modules=lora["target_modules"],
            task_type="CAUSAL_LM",
        )
        timer = StepTimer()
        torch.manual_seed(train["seed"])  # SFTTrainer creates the adapter before seeding: same init
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[timer],
        )
        started = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - started
    return {
        "tool": "trl",
        "precision": "bf16" if args.bf16 else "fp32",
        "steps": trainer.state.global_step,
        "gradient_checkpointing": args.gradient_checkpointing,
        "sampler": str(args.train_sampling_strategy),
        "input_tokens": int(trainer._total_train_tokens),
        "supervised_tokens": None,
        **_step_stats(timer.ends, wall),
        "logged_final_train_loss": _tail_mean(timer.losses),
        "training_peak_rss_mib": round(peak_rss_mib(), 1),
        **final_losses(trainer.model, tokenizer.pad_token_id, job),
    }


WORKERS = {"goaltune": worker_goaltune, "trl": worker_trl}


# --- the parent: data, jobs, table --------------------------------------------------------


def prepare_job(steps: int | None, quick: bool) -> dict[str, Any]:
    """Encode builtin:json-api as the demo config does; pick whole batches of training examples."""
    from goaltune.config import load_config
    from goaltune.data import prepare_training_data
    from goaltune.models import dequantized_gguf_folder, load_model_and_tokenizer, resolve_model

    config = load_config(CONFIG)
    resolved = resolve_model(config.model.name_or_path)
    folder = (
        dequantized_gguf_folder(resolved.location) if resolved.kind == "gguf" else resolved.location
    )
    _, tokenizer = load_model_and_tokenizer(
        config.model.model_copy(update={"name_or_path": str(folder)})
    )
    data = prepare_training_data(config.data, config.train, tokenizer)
    per_step = config.train.per_device_train_batch_size * config.train.gradient_accumulation_steps
    steps = steps or (QUICK_STEPS if quick else len(data.train) // per_step)
    train = data.train[: steps * per_step]
    if len(train) < steps * per_step:
        raise SystemExit(
            f"only {len(data.train)} training examples: at most "
            f"{len(data.train) // per_step} steps of {per_step}"
        )
    rows = [{"input_ids": e.input_ids, "labels": e.labels} for e in train]
    train_config = config.train.model_dump(mode="json")
    train_config.update(max_steps=steps, eval_steps=10**6, save_steps=10**6, logging_steps=1)
    return {
        "model": config.model.name_or_path,
        "model_folder": str(folder),
        "steps": steps,
        "warmup_steps": math.ceil(config.train.warmup_ratio * steps),
        "train_config": train_config,
        "lora": config.lora.model_dump(mode="json"),
        "train": rows,
        "validation": [{"input_ids": e.input_ids, "labels": e.labels} for e in data.validation],
        "loss_sample": rows[:LOSS_SAMPLE],
    }


def goaltune_order(job: dict[str, Any]) -> list[int]:
    """The examples in the order goaltune's loop batches them (one epoch, its seed)."""
    from goaltune.data.encoding import make_batches

    train = job["train_config"]
    batches = make_batches(
        _encoded(job["train"]),
        train["per_device_train_batch_size"],
        seed=train["seed"],
        length_bucketing=train["length_bucketing"],
    )
    return [index for batch in batches for index in batch]


def token_counts(rows: list[dict[str, list[int]]]) -> dict[str, int]:
    """Input tokens (prompt included, no padding) and supervised next-token positions."""
    return {
        "input_tokens": sum(len(r["input_ids"]) for r in rows),
        "supervised_tokens": sum(sum(1 for x in r["labels"][1:] if x != IGNORE) for r in rows),
    }


def model_flops(rows: list[dict[str, list[int]]], params: dict[str, int]) -> float:
    """FLOPs a frozen-base LoRA step needs for these examples (forward + backward).

    Frozen linear weights: 2 (forward) + 2 (input gradient) per weight per token; the LM head
    only where a label is (4 x head x supervised tokens); the adapter 6 per weight per token;
    causal attention scores and values 2 x 2 x width x (s(s+1)/2) per layer forward, x3 with
    backward. Embedding lookups, norms and activations are not counted.
    """
    tokens = token_counts(rows)
    attention = sum(
        3
        * params["layers"]
        * 4
        * params["attention_width"]
        * len(r["input_ids"])
        * (len(r["input_ids"]) + 1)
        / 2
        for r in rows
    )
    return (
        4 * params["frozen_linear"] * tokens["input_tokens"]
        + 4 * params["lm_head"] * tokens["supervised_tokens"]
        + 6 * params["adapter"] * tokens["input_tokens"]
        + attention
    )


def measure_peaks(earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    """fp32 and bf16 matmul peaks; with `earlier`, the higher of the two measurements.

    Measured before and after the tools run, so a busy moment on a shared machine does not
    lower the peak (which would raise the MFU).
    """
    peaks = {"fp32": matmul_gflops("float32"), "bf16": matmul_gflops("bfloat16", seconds=1.0)}
    if earlier:
        peaks = {k: max(v, earlier[k], key=lambda p: p["gflops"]) for k, v in peaks.items()}
    return peaks


def _job_file(folder: Path, name: str, job: dict[str, Any], **extra: Any) -> Path:
    path = folder / f"{name}.job.json"
    write_json(path, {**job, **extra, "progress_file": str(folder / f"{name}.progress.json")})
    return path


def _probe_note(folder: Path, name: str) -> str:
    progress = folder / f"{name}.progress.json"
    if not progress.is_file():
        return "no optimizer step finished"
    import json

    state = json.loads(progress.read_text())
    return f"{state['steps']} step(s) finished in {state['elapsed_s']:.0f} s"


def run_comparison(
    job: dict[str, Any], quick: bool, variants: list[str], peaks: dict[str, Any], folder: Path
) -> dict[str, Any]:
    """goaltune, then each TRL variant, each in its own subprocess."""
    script = Path(__file__).resolve()
    results: dict[str, Any] = {}
    results["goaltune"] = run_worker(
        script, "goaltune", _job_file(folder, "goaltune", job), folder / "goaltune.result.json"
    )
    for name in variants:
        overrides = TRL_VARIANTS[name]
        timeout = None
        if overrides.get("bf16", True):
            slowdown = peaks["fp32"]["gflops"] / max(peaks["bf16"]["gflops"], 1e-9)
            if quick and slowdown > 2:
                results[name] = {
                    "skipped": f"quick mode: bf16 matmul measured {slowdown:.0f}x "
                    "slower than fp32 on this host"
                }
                continue
            walls = [
                r["wall_s"] for n, r in results.items() if n.startswith("trl") and "wall_s" in r
            ]
            timeout = 60 + (min(walls) if walls else 1800)
        order = goaltune_order(job) if name.endswith("-goaltune-batches") else None
        results[name] = run_worker(
            script,
            "trl",
            _job_file(folder, name, job, trl_overrides=overrides, order=order),
            folder / f"{name}.result.json",
            timeout=timeout,
        )
        if results[name].get("timed_out"):
            results[name]["error"] += (
                f" ({_probe_note(folder, name)}; slower than the fastest fp32 setting)"
            )
    return results


def add_mfu(entry: dict[str, Any], flops: float, peaks: dict[str, Any]) -> None:
    """The model FLOP rate of a timed run and its share of the peak of the precision it used."""
    achieved = flops / entry["wall_s"] / 1e9
    entry["model_gflops_per_s"] = round(achieved, 2)
    entry["mfu"] = round(achieved / peaks[entry["precision"]]["gflops"], 4)


def summarize(
    job: dict[str, Any], results: dict[str, Any], peaks: dict[str, Any]
) -> dict[str, Any]:
    """Add tokens/s, MFU and ratios; pick the fastest TRL setting."""
    tokens = token_counts(job["train"])
    params = results["goaltune"].get("parameters")
    flops = model_flops(job["train"], params) if params else None
    for entry in results.values():
        if "wall_s" not in entry:
            continue
        entry["input_tokens_per_s"] = round(tokens["input_tokens"] / entry["wall_s"], 2)
        entry["counted_tokens_match"] = entry["input_tokens"] == tokens["input_tokens"]
        entry["supervised_tokens_per_s"] = round(tokens["supervised_tokens"] / entry["wall_s"], 2)
        if flops:
            add_mfu(entry, flops, peaks)
    trl = {n: r for n, r in results.items() if n.startswith("trl") and "wall_s" in r}
    fastest = max(trl, key=lambda n: trl[n]["input_tokens_per_s"]) if trl else None
    ours = results["goaltune"]
    summary: dict[str, Any] = {"fastest_trl": fastest, "tokens": tokens, "model_flops": flops}
    if fastest and "wall_s" in ours:
        theirs = trl[fastest]
        summary["ratio_tokens_per_s"] = ratio(
            ours["input_tokens_per_s"], theirs["input_tokens_per_s"]
        )
        summary["loss_vs_trl"] = {
            key: ratio(ours[key], theirs[key]) for key in ("final_train_loss", "final_val_loss")
        }
        same = results.get(SAME_BATCHES, {})
        if "wall_s" in same:  # same batches in the same order: differences are implementation
            summary["loss_vs_trl_same_batches"] = {
                key: ratio(ours[key], same[key]) for key in ("final_train_loss", "final_val_loss")
            }
        summary["rss_vs_trl"] = ratio(ours["peak_rss_mib"], theirs["peak_rss_mib"])
        summary["goals"] = {
            "tokens_per_s_at_least_3x": (summary["ratio_tokens_per_s"] or 0) >= 3,
            "mfu_above_50pct": (ours.get("mfu") or 0) > 0.5,
            "losses_within_2pct": all(
                v is not None and v <= 1.02 for v in summary["loss_vs_trl"].values()
            ),
            "peak_rss_not_higher": (summary["rss_vs_trl"] or 9) <= 1.0,
        }
    return summary


def print_table(results: dict[str, Any], summary: dict[str, Any], peaks: dict[str, Any]) -> None:
    """The comparison as a rich table."""
    from rich.table import Table

    table = Table(title="Training throughput (same data, steps, LoRA, schedule)")
    for column in (
        "tool",
        "precision",
        "steps",
        "wall s",
        "s/step",
        "input tok/s",
        "sup. tok/s",
        "peak RSS MiB",
        "train loss",
        "val loss",
        "MFU",
        "goaltune / this",
    ):
        table.add_column(column, justify="left" if column == "tool" else "right")
    ours = results["goaltune"].get("input_tokens_per_s")
    for name, entry in results.items():
        if "wall_s" not in entry:
            reason = entry.get("skipped") or entry.get("error", "").splitlines()[0]
            table.add_row(name, *["-"] * 10, f"[dim]{reason}[/]")
            continue
        table.add_row(
            name,
            entry["precision"],
            str(entry["steps"]),
            fmt(entry["wall_s"], 1),
            fmt(entry["mean_step_s"]),
            fmt(entry["input_tokens_per_s"], 1),
            fmt(entry["supervised_tokens_per_s"], 1),
            fmt(entry["peak_rss_mib"], 0),
            fmt(entry["final_train_loss"], 4),
            fmt(entry["final_val_loss"], 4),
            f"{entry['mfu']:.1%}" if entry.get("mfu") is not None else "-",
            fmt(ratio(ours, entry["input_tokens_per_s"]), 2),
        )
    out = console()
    out.print(table)
    out.print(
        f"matmul peaks: fp32 {peaks['fp32']['gflops']} GFLOP/s, "
        f"bf16 {peaks['bf16']['gflops']} GFLOP/s; fastest TRL: {summary.get('fastest_trl')}; "
        f"ratio {summary.get('ratio_tokens_per_s')}; goals {summary.get('goals')}"
    )


def run_levers(job: dict[str, Any], folder: Path, only: list[str]) -> dict[str, Any]:
    """goaltune with each performance default turned off in turn (same examples).

    `only`: words selecting some levers (case-insensitive substrings). The defaults run first and
    again last; speed-ups are relative to the faster of the two, and the gap between them shows
    how much the machine's load drifted during the measurement.
    """
    script = Path(__file__).resolve()
    tokens = token_counts(job["train"])
    chosen = [
        name
        for name in LEVERS
        if name == "defaults" or not only or any(word.lower() in name.lower() for word in only)
    ]
    results: dict[str, Any] = {}
    for name in [*chosen, "defaults (again)"]:
        overrides, options = LEVERS[name.removesuffix(" (again)")]
        steps = job["steps"] // options.get("steps_divisor", 1)
        variant = {
            **job,
            "overrides": {**overrides, "max_steps": steps},
            "steps": steps,
            "threads": options.get("threads"),
            "compile": options.get("compile", False),
            "loss_sample": job["loss_sample"][:8],
            "validation": job["validation"][:8],
        }
        slug = "lever-" + "".join(c if c.isalnum() else "-" for c in name)
        base = results.get("defaults", {}).get("process_wall_s")
        entry = run_worker(
            script,
            "goaltune",
            _job_file(folder, slug, variant),
            folder / f"{slug}.result.json",
            env=options.get("env"),
            timeout=max(900.0 if options.get("compile") else 300.0, 5 * base) if base else None,
        )
        if "wall_s" in entry:
            entry["input_tokens_per_s"] = round(tokens["input_tokens"] / entry["wall_s"], 2)
        results[name] = entry
    base = max(results[n].get("input_tokens_per_s") or 0 for n in ("defaults", "defaults (again)"))
    for entry in results.values():
        entry["defaults_speedup_over_this"] = ratio(base, entry.get("input_tokens_per_s"))
    return results


def levers_mfu(job: dict[str, Any], results: dict[str, Any], peaks: dict[str, Any]) -> None:
    """MFU of each lever run: the same examples, so the same FLOPs, over its own wall time."""
    params = next((r["parameters"] for r in results.values() if "parameters" in r), None)
    if params is None:
        return
    flops = model_flops(job["train"], params)
    for entry in results.values():
        if "wall_s" in entry:
            add_mfu(entry, flops, peaks)


def print_levers(results: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="goaltune levers: each default turned off in turn")
    for column in (
        "variant",
        "steps",
        "wall s",
        "median s/step",
        "input tok/s",
        "defaults speedup",
        "peak RSS MiB",
        "MFU",
    ):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for name, entry in results.items():
        if "wall_s" not in entry:
            table.add_row(name, *["-"] * 6, entry.get("error", "").splitlines()[0])
            continue
        table.add_row(
            name,
            str(entry["steps"]),
            fmt(entry["wall_s"], 1),
            fmt(entry["median_step_s"]),
            fmt(entry["input_tokens_per_s"], 1),
            fmt(entry["defaults_speedup_over_this"]),
            fmt(entry["peak_rss_mib"], 0),
            f"{entry['mfu']:.1%}" if entry.get("mfu") is not None else "-",
        )
    console().print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_STEPS} steps; skip a slow bf16"
    )
    parser.add_argument("--steps", type=int, help="optimizer steps (default: one epoch, or quick)")
    parser.add_argument(
        "--trl",
        help=f"TRL settings to try (of {', '.join(TRL_VARIANTS)}; "
        f"default: all, or {', '.join(QUICK_TRL)} with --quick)",
    )
    parser.add_argument(
        "--levers",
        nargs="?",
        const="",
        metavar="WORDS",
        help="measure goaltune's levers instead (optionally only those whose "
        "names contain one of these comma-separated words)",
    )
    add_shared_options(parser)
    args = parser.parse_args()
    if served_without_measuring(args, WORKERS):
        return 0
    if args.levers is None and importlib.util.find_spec("trl") is None:
        print(
            "TRL is not installed; install it with:\n"
            f"  {sys.executable} -m pip install 'trl>=1.16'"
            "   (the bench extra: pip install -e '.[bench]')",
            file=sys.stderr,
        )
        return 2
    chosen = args.trl or ",".join(QUICK_TRL if args.quick else TRL_VARIANTS)
    variants = [v.strip() for v in chosen.split(",") if v.strip()]
    unknown = [v for v in variants if v not in TRL_VARIANTS]
    if unknown:
        parser.error(f"unknown TRL setting(s) {unknown}; known: {list(TRL_VARIANTS)}")
    mode = "quick" if args.quick else "full"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # goaltune's default, given to every tool
    started = time.perf_counter()
    info = machine()
    log("measuring matmul peaks ...")
    peaks = measure_peaks()
    log(f"peaks {peaks}; encoding the data ...")
    job = prepare_job(args.steps, args.quick)
    with tempfile.TemporaryDirectory(prefix="goaltune-bench-") as tmp:
        if args.levers is not None:
            levers = run_levers(job, Path(tmp), [w for w in args.levers.split(",") if w.strip()])
            peaks = measure_peaks(peaks)
            levers_mfu(job, levers, peaks)
            print_levers(levers)
            out = args.out or RESULTS / f"train_levers_{mode}.json"
            report = {
                "mode": mode,
                "command": " ".join(sys.argv),
                "machine": info,
                "matmul_peaks": peaks,
                "steps": job["steps"],
                "tokens": token_counts(job["train"]),
                "levers": levers,
            }
        else:
            results = run_comparison(job, args.quick, variants, peaks, Path(tmp))
            peaks = measure_peaks(peaks)
            summary = summarize(job, results, peaks)
            print_table(results, summary, peaks)
            out = args.out or RESULTS / f"train_throughput_{mode}.json"
            report = {
                "mode": mode,
                "command": " ".join(sys.argv),
                "machine": info,
                "matmul_peaks": peaks,
                "config": str(CONFIG.relative_to(REPO)),
                "settings": {
                    "steps": job["steps"],
                    "warmup_steps": job["warmup_steps"],
                    "train": job["train_config"],
                    "lora": job["lora"],
                    "train_examples": len(job["train"]),
                    "validation_examples": len(job["validation"]),
                    "loss_sample_examples": len(job["loss_sample"]),
                },
                "results": results,
                "summary": summary,
            }
    report["total_wall_s"] = round(time.perf_counter() - started, 1)
    report["load_average_at_end"] = list(os.getloadavg())
    print(f"wrote {write_json(out, report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
