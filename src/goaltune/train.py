"""The training loop: LoRA with AdamW, warmup + schedule, accumulation, clipping, validation.

Read `train_adapter` top to bottom: it is the algorithm. Helpers above it are small pieces.
"""

from __future__ import annotations

import math
import random
import resource
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from goaltune.config import TrainConfig
from goaltune.data.encoding import IGNORE_INDEX, Encoded, collate, make_batches
from goaltune.checkpoints import load_checkpoint, save_checkpoint
from goaltune.errors import TrainingFailed, TrainingInterrupted
from goaltune.runs import LossHistoryWriter, truncate_loss_history


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


def pick_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def peak_memory(device: torch.device) -> dict[str, Any]:
    """Peak memory so far: CUDA max allocated on GPU, else the process's peak RSS."""
    if device.type == "cuda":
        return {"peak_memory_mib": torch.cuda.max_memory_allocated(device) / 2**20, "kind": "cuda_max_allocated"}
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_memory_mib": rss_kib / 1024, "kind": "process_peak_rss"}


def _causal_lm(model: Any) -> Any:
    """The underlying *ForCausalLM module (inside a PEFT wrapper when there is one)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def token_loss_sum(model: Any, batch: dict[str, torch.Tensor], supervised_only: bool) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over supervised next-token positions, and their count.

    With `supervised_only`, the vocabulary projection runs only at positions that carry a label,
    instead of for every token: prompts cost no lm_head compute.
    """
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    count = int(mask.sum())
    lm = _causal_lm(model)
    decoder = getattr(lm, "model", None)
    if supervised_only and decoder is not None and hasattr(lm, "lm_head"):
        hidden = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        logits = lm.lm_head(hidden[:, :-1][mask])
    else:
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        logits = full[:, :-1][mask]
    loss = F.cross_entropy(logits.float(), labels[mask], reduction="sum")
    return loss, count


def _autocast(device: torch.device, bf16: bool) -> Any:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


@torch.no_grad()
def validation_loss(model: Any, encoded: list[Encoded], batch_size: int, pad_id: int,
                    device: torch.device, bf16: bool, supervised_only: bool) -> float | None:
    """Mean per-token loss over the validation examples (None when there are none)."""
    if not encoded:
        return None
    model.eval()
    total, count = 0.0, 0
    for batch_ids in make_batches(encoded, batch_size, seed=0, length_bucketing=True):
        batch = {k: v.to(device) for k, v in collate([encoded[i] for i in batch_ids], pad_id).items()}
        with _autocast(device, bf16):
            loss, n = token_loss_sum(model, batch, supervised_only)
        total, count = total + float(loss), count + n
    model.train()
    return total / max(count, 1)


def lr_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int) -> Any:
    """Warmup followed by the configured decay (Transformers' schedulers)."""
    from transformers import get_scheduler

    warmup = math.ceil(config.warmup_ratio * total_steps)
    return get_scheduler(config.lr_scheduler_type, optimizer, num_warmup_steps=warmup,
                         num_training_steps=total_steps)


def plan_steps(num_examples: int, config: TrainConfig) -> tuple[int, int]:
    """(optimizer steps per epoch, total optimizer steps)."""
    micro_batches = math.ceil(num_examples / config.per_device_train_batch_size)
    per_epoch = max(1, math.ceil(micro_batches / config.gradient_accumulation_steps))
    total = config.max_steps or math.ceil(per_epoch * config.num_train_epochs)
    return per_epoch, total


def micro_batch_stream(encoded: list[Encoded], config: TrainConfig) -> Iterator[tuple[float, list[int]]]:
    """Endless (epoch, example indices) micro-batches; each epoch reshuffles with its own seed."""
    epoch = 0
    while True:
        batches = make_batches(encoded, config.per_device_train_batch_size,
                               seed=config.seed + epoch, length_bucketing=config.length_bucketing)
        for index, batch in enumerate(batches):
            yield epoch + (index + 1) / len(batches), batch
        epoch += 1


@dataclass
class TrainResult:
    """What the loop measured."""

    steps: int = 0
    epochs: float = 0.0
    tokens_seen: int = 0
    input_tokens: int = 0
    train_seconds: float = 0.0
    bf16: bool = False
    device: str = "cpu"
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[tuple[int, float]] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Loss and throughput figures for training_metrics.json."""
        val = [v for _, v in self.val_losses]
        best_val = min(self.val_losses, key=lambda sv: sv[1]) if self.val_losses else None
        seconds = max(self.train_seconds, 1e-9)
        return {
            "first_train_loss": self.train_losses[0] if self.train_losses else None,
            "final_train_loss": self.train_losses[-1] if self.train_losses else None,
            "best_train_loss": min(self.train_losses) if self.train_losses else None,
            "first_val_loss": val[0] if val else None,
            "final_val_loss": val[-1] if val else None,
            "best_val_loss": best_val[1] if best_val else None,
            "best_val_step": best_val[0] if best_val else None,
            "tokens_per_second": self.input_tokens / seconds,
            "supervised_tokens_per_second": self.tokens_seen / seconds,
        }


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]train[/] step {task.completed}/{task.total}"),
        BarColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[tps]} tok/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )


class StopRequested:
    """Turns SIGINT/SIGTERM into a flag checked between optimizer steps (main thread only)."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequested:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _resume_state(checkpoint: Path | None, model: Any, optimizer: Any, scheduler: Any,
                  result: TrainResult, history_path: Path) -> int:
    """Load a checkpoint (if any) into the live objects; returns the step to continue after."""
    if checkpoint is None:
        return 0
    state = load_checkpoint(checkpoint, model, optimizer, scheduler)
    for key in ("epochs", "tokens_seen", "input_tokens", "train_losses", "train_seconds"):
        setattr(result, key, state[key])
    result.val_losses = [tuple(pair) for pair in state["val_losses"]]
    truncate_loss_history(history_path, state["step"])
    return state["step"]


def train_adapter(model: Any, tokenizer: Any, train_set: list[Encoded], val_set: list[Encoded],
                  config: TrainConfig, run_dir: Path, show_progress: bool = True,
                  resume_from: Path | None = None) -> TrainResult:
    """Train the LoRA parameters of `model` in place and log every step to loss_history.csv.

    Checkpoints go to `run_dir/checkpoints` every `save_steps` steps and at each epoch end;
    `resume_from` continues from one with identical results. SIGINT/SIGTERM save a checkpoint
    and raise TrainingInterrupted; a non-finite loss raises TrainingFailed.
    """
    seed_everything(config.seed)
    device = pick_device()
    model.to(device)
    model.train()
    bf16 = use_bf16(config.bf16, device)
    pad_id = tokenizer.pad_token_id
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay,
                                  foreach=True)
    steps_per_epoch, total_steps = plan_steps(len(train_set), config)
    scheduler = lr_scheduler(optimizer, config, total_steps)
    result = TrainResult(bf16=bf16, device=str(device))
    history_path = run_dir / "loss_history.csv"
    first_step = _resume_state(resume_from, model, optimizer, scheduler, result, history_path) + 1
    history = LossHistoryWriter(history_path, append=first_step > 1)
    stream = micro_batch_stream(train_set, config)
    for _ in range((first_step - 1) * config.gradient_accumulation_steps):
        next(stream)  # the data position is a pure function of the seed and the step
    checkpoint_dir = run_dir / "checkpoints"

    def checkpoint(step: int) -> Path:
        state = {"epochs": result.epochs, "tokens_seen": result.tokens_seen,
                 "input_tokens": result.input_tokens, "train_losses": result.train_losses,
                 "val_losses": result.val_losses, "train_seconds": result.train_seconds}
        return save_checkpoint(checkpoint_dir, step, model, optimizer, scheduler, state,
                               config.save_total_limit)

    progress = _progress() if show_progress else None
    task = progress.add_task("train", total=total_steps, completed=first_step - 1, loss="-",
                             tps="-") if progress else None
    started = time.perf_counter() - result.train_seconds
    bad_batches = 0
    with progress or nullcontext(), StopRequested() as stop:
        for step in range(first_step, total_steps + 1):
            # Gather the micro-batches of this optimizer step; normalise by their supervised tokens.
            micro = [next(stream) for _ in range(config.gradient_accumulation_steps)]
            epoch = micro[-1][0]
            batches = [collate([train_set[i] for i in ids], pad_id) for _, ids in micro]
            step_tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in batches)
            step_loss = 0.0
            for batch in batches:
                batch = {k: v.to(device) for k, v in batch.items()}
                with _autocast(device, bf16):
                    loss_sum, _ = token_loss_sum(model, batch, config.supervised_logits_only)
                (loss_sum / step_tokens).backward()
                step_loss += float(loss_sum.detach()) / step_tokens
                result.input_tokens += int(batch["attention_mask"].sum())
            if not math.isfinite(step_loss):
                optimizer.zero_grad(set_to_none=True)
                bad_batches += 1
                if bad_batches > config.max_bad_batches:
                    history.close()
                    raise TrainingFailed(f"non-finite training loss ({step_loss}) at step {step}")
                continue
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)

            result.steps, result.epochs = step, epoch
            result.tokens_seen += step_tokens
            result.train_losses.append(step_loss)
            val = None
            if step % config.eval_steps == 0 or step == total_steps:
                val = validation_loss(model, val_set, config.per_device_train_batch_size, pad_id,
                                      device, bf16, config.supervised_logits_only)
                if val is not None:
                    result.val_losses.append((step, val))
            elapsed = time.perf_counter() - started
            result.train_seconds = elapsed
            if step % config.logging_steps == 0 or val is not None or step == total_steps:
                history.append({
                    "step": step, "epoch": round(epoch, 4), "train_loss": step_loss, "val_loss": val,
                    "learning_rate": scheduler.get_last_lr()[0], "grad_norm": grad_norm,
                    "tokens_seen": result.tokens_seen, "elapsed_s": round(elapsed, 3),
                })
            if progress is not None:
                progress.update(task, completed=step, loss=f"{step_loss:.4f}",
                                tps=f"{result.input_tokens / max(elapsed, 1e-9):.0f}")
            if stop.signal_name:
                history.close()
                raise TrainingInterrupted(stop.signal_name, step, checkpoint(step))
            if step % config.save_steps == 0 or step % steps_per_epoch == 0:
                checkpoint(step)
    history.close()
    result.steps = total_steps
    result.memory = peak_memory(device)
    model.eval()
    return result
