"""Forward, backward and clipping of a training step: plain in one process, Accelerate in several.

In one process the engine calls the model and `Tensor.backward` directly, exactly as the loop
always did. In several, the model and goaltune's loss become one module (`SupervisedLoss`) that
`Accelerator.prepare` wraps in DDP, FSDP or a DeepSpeed engine, as the Accelerate config says.

Loss scaling: each process backpropagates (its summed token losses / the step's supervised
tokens over all processes). DDP and DeepSpeed average gradients over the processes and
`Accelerator.backward` divides by the accumulation steps, so the engine multiplies by
processes x accumulation: the reduced gradient is then the gradient of one process that ran the
whole global batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from goaltune.config import TrainConfig
from goaltune.distributed import Context
from goaltune.loss import causal_lm, token_loss_sum


class SupervisedLoss(torch.nn.Module):
    """The model and goaltune's loss as one module, so DDP/FSDP/DeepSpeed wrap both."""

    def __init__(self, model: Any, supervised_only: bool) -> None:
        super().__init__()
        self.model = model
        self.supervised_only = supervised_only
        # FSDP's transformer-layer auto-wrap reads the decoder layer classes from here
        self._no_split_modules = getattr(causal_lm(model), "_no_split_modules", None)

    def forward(
        self,
        input_ids: torch.Tensor,
        labels: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, int]:
        batch = {"input_ids": input_ids, "labels": labels}
        if attention_mask is not None:
            batch["attention_mask"] = attention_mask
        if position_ids is not None:  # packed rows (data.encoding.collate_packed)
            batch["position_ids"] = position_ids
        return token_loss_sum(self.model, batch, self.supervised_only)


class StepEngine:
    """What the training loop asks of the hardware, for one process or several."""

    def __init__(
        self,
        model: Any,
        optimizer: torch.optim.Optimizer,
        dist: Context,
        config: TrainConfig,
        bf16: bool,
    ) -> None:
        self.model, self.optimizer, self.dist = model, optimizer, dist
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.trainable_names = {n for n, p in model.named_parameters() if p.requires_grad}
        self.supervised_only = config.supervised_logits_only
        self.accelerator: Any = None
        self.module: Any = None
        self.kind = "single"
        self.scale = 1.0
        if dist.active:
            self._prepare(config, bf16)

    def _prepare(self, config: TrainConfig, bf16: bool) -> None:
        from accelerate import Accelerator
        from accelerate.utils import DistributedType

        accelerator = Accelerator(
            cpu=self.dist.device.type == "cpu",
            mixed_precision="bf16" if bf16 else "no",
            gradient_accumulation_steps=config.gradient_accumulation_steps,
        )
        deepspeed = accelerator.state.deepspeed_plugin
        if deepspeed is not None:  # the run config decides these, whatever the DeepSpeed file says
            deepspeed.deepspeed_config.update(
                {
                    "train_micro_batch_size_per_gpu": config.per_device_train_batch_size,
                    "gradient_accumulation_steps": config.gradient_accumulation_steps,
                    "gradient_clipping": config.max_grad_norm,
                }
            )
        self.module, self.optimizer = accelerator.prepare(
            SupervisedLoss(self.model, self.supervised_only), self.optimizer
        )
        self.accelerator = accelerator
        self.kind = {DistributedType.FSDP: "fsdp", DistributedType.DEEPSPEED: "deepspeed"}.get(
            accelerator.distributed_type, "ddp"
        )
        self.scale = float(self.dist.world_size * config.gradient_accumulation_steps)

    @property
    def sharded_params(self) -> bool:
        """True when no process holds the full weights (FSDP, DeepSpeed ZeRO-3)."""
        if self.kind == "fsdp":
            return True
        plugin = self.accelerator.state.deepspeed_plugin if self.kind == "deepspeed" else None
        return plugin is not None and plugin.zero_stage == 3

    @property
    def accelerate_checkpoints(self) -> bool:
        """True when weights or optimizer state are sharded (checkpoints use save_state)."""
        return self.kind in ("fsdp", "deepspeed")

    @contextlib.contextmanager
    def sync(self, last: bool) -> Iterator[None]:
        """Context for one micro-batch: gradients are all-reduced (and DeepSpeed steps) only on
        the step's last one. Accelerate's `accumulate` counts the micro-batches itself."""
        if self.accelerator is None:
            yield
            return
        with self.accelerator.accumulate(self.module):
            if self.accelerator.sync_gradients != last:
                raise RuntimeError("micro-batches out of step with gradient accumulation")
            yield

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """Summed token loss and supervised-token count of one training micro-batch."""
        if self.module is None:
            return token_loss_sum(self.model, batch, self.supervised_only)
        return self.module(**batch)

    def eval_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """Like `loss`, without gradients' collectives: local unless the weights are sharded."""
        if self.module is not None and self.sharded_params:
            return self.module(**batch)
        return token_loss_sum(self.model, batch, self.supervised_only)

    def backward(self, loss: torch.Tensor) -> None:
        """Backpropagate one micro-batch's share of the step loss."""
        if self.accelerator is None:
            loss.backward()
        else:
            self.accelerator.backward(loss * self.scale)

    def clip(self, max_norm: float) -> float:
        """Clip the gradients to `max_norm`; returns their norm before clipping."""
        if self.kind in ("single", "ddp"):  # DDP gradients are already identical everywhere
            return float(torch.nn.utils.clip_grad_norm_(self.params, max_norm))
        norm = self.accelerator.clip_grad_norm_(self.module.parameters(), max_norm)
        return float("nan") if norm is None else float(norm)

    def gathered_adapter(self) -> dict[str, torch.Tensor] | None:
        """The trained weights in full on the main process when they are sharded (collective)."""
        if not self.sharded_params:
            return None
        state = self.accelerator.get_state_dict(self.module)
        if not self.dist.is_main:
            return None
        prefix = "model."
        return {
            name[len(prefix) :]: tensor
            for name, tensor in state.items()
            if name.startswith(prefix) and name[len(prefix) :] in self.trainable_names
        }
