"""The training loop: LoRA with AdamW, warmup + schedule, accumulation, clipping, validation.

Read `train_adapter` top to bottom: it is the algorithm. Helpers above it are small pieces.
With several processes (data parallel), every process walks the same seeded stream of
micro-batches; an optimizer step takes accumulation x processes of them and each process trains
on its own consecutive share, so N processes reproduce one process with N times the accumulation.
"""

from __future__ import annotations

import math
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from goaltune.checkpoints import (
    checkpoint_path,
    checkpoint_processes,
    load_accelerate_checkpoint,
    load_checkpoint,
    rng_state,
    save_accelerate_checkpoint,
    save_checkpoint,
)
from goaltune.config import TrainConfig
from goaltune.data.encoding import Encoded, collate, make_batches
from goaltune.distributed import Context, context
from goaltune.engine import StepEngine
from goaltune.errors import RunError, TrainingFailed, TrainingInterrupted
from goaltune.goal_watch import GoalWatch
from goaltune.hardware import (
    attention_for_training,
    autocast,
    bf16_base_applies,
    bf16_frozen_base,
    enable_gradient_checkpointing,
    gathered_memory,
    place_model,
    training_attention,
    use_bf16,
)
from goaltune.loss import require_packed_attention, supervised_targets
from goaltune.progress import ProgressBar
from goaltune.run_folder import LossHistoryWriter, RunFolder, truncate_loss_history
from goaltune.trackers import open_trackers


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def validation_loss(
    engine: StepEngine,
    encoded: list[Encoded],
    batch_size: int,
    pad_id: int,
    device: torch.device,
    bf16: bool,
) -> float | None:
    """Mean per-token loss over the validation examples (None when there are none).

    Several processes split the batches and sum their totals; with sharded weights every
    process runs every batch (each forward is a collective).
    """
    if not encoded:
        return None
    engine.model.eval()
    batches = make_batches(encoded, batch_size, seed=0, length_bucketing=True)
    shared = engine.dist.active and not engine.sharded_params
    total, count = 0.0, 0.0
    for batch_ids in engine.dist.share(batches) if shared else batches:
        batch = {
            k: v.to(device) for k, v in collate([encoded[i] for i in batch_ids], pad_id).items()
        }
        with autocast(device, bf16):
            loss, n = engine.eval_loss(batch)
        total, count = total + float(loss), count + n
    engine.model.train()
    if shared:
        total, count = engine.dist.sum([total, count])
    return total / max(count, 1)


def lr_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int) -> Any:
    """Warmup followed by the configured decay (Transformers' schedulers)."""
    from transformers import get_scheduler

    warmup = math.ceil(config.warmup_ratio * total_steps)
    return get_scheduler(
        config.lr_scheduler_type, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps
    )


def plan_steps(num_examples: int, config: TrainConfig, processes: int = 1) -> tuple[int, int]:
    """(optimizer steps per epoch, total optimizer steps) when `processes` share each step."""
    micro_batches = math.ceil(num_examples / config.per_device_train_batch_size)
    per_epoch = max(1, math.ceil(micro_batches / (config.gradient_accumulation_steps * processes)))
    total = config.max_steps or math.ceil(per_epoch * config.num_train_epochs)
    return per_epoch, total


def micro_batch_stream(
    encoded: list[Encoded], config: TrainConfig
) -> Iterator[tuple[float, list[int]]]:
    """Endless (epoch, example indices) micro-batches; each epoch reshuffles with its own seed."""
    epoch = 0
    while True:
        batches = make_batches(
            encoded,
            config.per_device_train_batch_size,
            seed=config.seed + epoch,
            length_bucketing=config.length_bucketing,
        )
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
    bf16_base: bool = False  # frozen base weights held in bf16 during training
    attention: str = "model"  # the training steps' attention (train.attention resolved)
    device: str = "cpu"
    processes: int = 1
    sharded_params: bool = False
    gathered_adapter: dict[str, torch.Tensor] | None = None  # FSDP/ZeRO-3, on the main process
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[tuple[int, float]] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    goal_watch: Any = None  # GoalWatchSummary when the goal was watched or a step kept

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


def _resume_state(
    checkpoint: Path | None,
    engine: StepEngine,
    optimizer: Any,
    scheduler: Any,
    result: TrainResult,
    history_path: Path,
    watch: GoalWatch | None = None,
) -> int:
    """Load a checkpoint (if any) into the live objects; returns the step to continue after."""
    if checkpoint is None:
        return 0
    dist = engine.dist
    trained_by = checkpoint_processes(checkpoint)
    if trained_by != dist.world_size:
        raise RunError(
            f"{checkpoint}: written by {trained_by} process(es), but {dist.world_size} "
            f"are running; resume with --num-processes {trained_by}"
        )
    if engine.accelerate_checkpoints:
        state = load_accelerate_checkpoint(checkpoint, engine.accelerator, scheduler)
    else:
        state = load_checkpoint(checkpoint, engine.model, optimizer, scheduler, dist.rank)
    for key in ("epochs", "tokens_seen", "input_tokens", "train_losses", "train_seconds"):
        setattr(result, key, state[key])
    result.val_losses = [tuple(pair) for pair in state["val_losses"]]
    if dist.is_main:
        truncate_loss_history(history_path, state["step"])
    if watch is not None:
        watch.restore(state)
    return state["step"]


def _reduce_step(
    dist: Context, step_loss: float, input_tokens: int, stopping: bool
) -> tuple[float, int, bool]:
    """Sum the step's loss and input tokens over the processes; stop if any process must."""
    loss, tokens, stops = dist.sum([step_loss, input_tokens, float(stopping)])
    return loss, int(tokens), stops > 0


def train_adapter(
    model: Any,
    tokenizer: Any,
    train_set: list[Encoded],
    val_set: list[Encoded],
    config: TrainConfig,
    run_dir: Path,
    show_progress: bool = True,
    resume_from: Path | None = None,
    watch: GoalWatch | None = None,
) -> TrainResult:
    """Train the LoRA parameters of `model` in place and log every step to loss_history.csv.

    Checkpoints go to `run_dir/checkpoints` every `save_steps` steps and at each epoch end;
    `resume_from` continues from one with identical results. SIGINT/SIGTERM save a checkpoint
    and raise TrainingInterrupted; a non-finite loss raises TrainingFailed. With several
    processes, only the main one writes files; losses and token counts are summed over all.
    """
    seed_everything(config.seed)
    dist = context()
    device = dist.device
    place_model(model, device)
    model.train()
    if config.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    if config.packing:
        require_packed_attention(model)
    bf16 = use_bf16(config.bf16, device)
    pad_id = tokenizer.pad_token_id
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=config.learning_rate, weight_decay=config.weight_decay, foreach=True
    )
    steps_per_epoch, total_steps = plan_steps(len(train_set), config, dist.world_size)
    scheduler = lr_scheduler(optimizer, config, total_steps)
    engine = StepEngine(model, optimizer, dist, config, bf16)
    bf16_base = bf16_base_applies(model, bf16, config.bf16_base, dist.world_size)
    attention = training_attention(config.attention, device, bf16, config.max_seq_length)
    result = TrainResult(
        bf16=bf16,
        bf16_base=bf16_base,
        attention=attention,
        device=str(device),
        processes=dist.world_size,
    )
    folder = RunFolder(run_dir)
    history_path = folder.loss_history_path
    first_step = (
        _resume_state(resume_from, engine, optimizer, scheduler, result, history_path, watch) + 1
    )
    history = LossHistoryWriter(history_path, append=first_step > 1) if dist.is_main else None
    trackers = open_trackers(config.report_to if dist.is_main else [], folder, first_step)
    accumulation = config.gradient_accumulation_steps
    stream = micro_batch_stream(train_set, config)
    for _ in range((first_step - 1) * accumulation * dist.world_size):
        next(stream)  # the data position is a pure function of the seed and the step
    checkpoint_dir = folder.checkpoints_dir

    def checkpoint(step: int) -> Path:
        state = {
            "epochs": result.epochs,
            "tokens_seen": result.tokens_seen,
            "input_tokens": result.input_tokens,
            "train_losses": result.train_losses,
            "val_losses": result.val_losses,
            "train_seconds": result.train_seconds,
            "processes": dist.world_size,
            **(watch.state() if watch is not None else {}),
        }
        if engine.accelerate_checkpoints:
            return save_accelerate_checkpoint(
                checkpoint_dir,
                step,
                engine.accelerator,
                scheduler,
                state,
                config.save_total_limit,
                dist,
            )
        rng_states = dist.gather(rng_state()) if dist.active else None
        dist.on_main(
            lambda: save_checkpoint(
                checkpoint_dir,
                step,
                model,
                optimizer,
                scheduler,
                state,
                config.save_total_limit,
                rng_states,
            )
        )
        return checkpoint_path(checkpoint_dir, step)

    def close_history() -> None:
        if history is not None:
            history.close()
        trackers.close()

    progress = ProgressBar(
        "train",
        total_steps,
        show=show_progress and dist.is_main,
        completed=first_step - 1,
        fields={"loss": "loss {}", "tps": "{} tok/s"},
    )
    if watch is not None and first_step == 1:
        watch.start(model)  # the base model's row: its time is not training time
    started = time.perf_counter() - result.train_seconds
    bad_batches = 0
    with (
        progress,
        StopRequested() as stop,
        bf16_frozen_base(model, bf16_base),
        attention_for_training(model, attention),
    ):
        for step in range(first_step, total_steps + 1):
            if watch is not None and watch.stop_reason:
                break  # stopped early (also when resuming a run that had)
            # The step's micro-batches over all processes; the loss is normalised by all their
            # supervised tokens, and this process trains on its consecutive share of them.
            micro = [next(stream) for _ in range(accumulation * dist.world_size)]
            epoch = micro[-1][0]
            step_tokens = sum(supervised_targets(train_set[i]) for _, ids in micro for i in ids)
            own = micro[dist.rank * accumulation : (dist.rank + 1) * accumulation]
            batches = [
                collate([train_set[i] for i in ids], pad_id, config.packing) for _, ids in own
            ]
            step_loss, input_tokens = 0.0, 0
            for index, batch in enumerate(batches):
                batch = {k: v.to(device) for k, v in batch.items()}
                with engine.sync(last=index == len(batches) - 1):
                    with autocast(device, bf16):
                        loss_sum, _ = engine.loss(batch)
                    engine.backward(loss_sum / step_tokens)
                step_loss += float(loss_sum.detach()) / step_tokens
                input_tokens += sum(len(train_set[i].input_ids) for i in own[index][1])
            stopping = False
            if dist.active:  # one collective: every process takes the same decisions below
                step_loss, input_tokens, stopping = _reduce_step(
                    dist, step_loss, input_tokens, bool(stop.signal_name)
                )
            result.input_tokens += input_tokens
            if not math.isfinite(step_loss):
                engine.optimizer.zero_grad(set_to_none=True)
                bad_batches += 1
                if bad_batches > config.max_bad_batches:
                    close_history()
                    raise TrainingFailed(f"non-finite training loss ({step_loss}) at step {step}")
                continue
            grad_norm = engine.clip(config.max_grad_norm)
            engine.optimizer.step()
            scheduler.step()
            engine.optimizer.zero_grad(set_to_none=True)

            result.steps, result.epochs = step, epoch
            result.tokens_seen += step_tokens
            result.train_losses.append(step_loss)
            val = None
            if step % config.eval_steps == 0 or step == total_steps:
                val = validation_loss(
                    engine, val_set, config.per_device_train_batch_size, pad_id, device, bf16
                )
                if val is not None:
                    result.val_losses.append((step, val))
            elapsed = time.perf_counter() - started
            result.train_seconds = elapsed
            if watch is not None:  # the goal's evaluations are not training time
                started += watch.after_step(model, step, total_steps, result, val)
            if history is not None and (
                step % config.logging_steps == 0 or val is not None or step == total_steps
            ):
                row = {
                    "step": step,
                    "epoch": round(epoch, 4),
                    "train_loss": step_loss,
                    "val_loss": val,
                    "learning_rate": scheduler.get_last_lr()[0],
                    "grad_norm": grad_norm,
                    "tokens_seen": result.tokens_seen,
                    "elapsed_s": round(elapsed, 3),
                }
                history.append(row)
                trackers.log_step({**row, "tokens_per_second": result.input_tokens / elapsed})
            progress.update(
                step,
                loss=f"{step_loss:.4f}",
                tps=f"{result.input_tokens / max(elapsed, 1e-9):.0f}",
            )
            if stopping or (not dist.active and stop.signal_name):
                close_history()
                raise TrainingInterrupted(stop.signal_name or "SIGTERM", step, checkpoint(step))
            if step % config.save_steps == 0 or step % steps_per_epoch == 0:
                checkpoint(step)
    close_history()
    result.steps = watch.last_step(total_steps) if watch is not None else total_steps
    if watch is not None:
        result.goal_watch = watch.finish(model, result.steps)
    result.memory = gathered_memory(dist, device)
    result.gathered_adapter = engine.gathered_adapter()
    result.sharded_params = engine.sharded_params
    model.eval()
    return result
