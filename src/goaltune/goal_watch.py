"""The goal watched while training: fixed subsets evaluated every train.goal_eval_steps steps.

At step 0 (the base model), every `goal_eval_steps` steps and at the end, the task metrics and
each guard benchmark are scored on fixed, seeded subsets of the items the final evaluation uses,
by the same code (`evaluate_task` and the benchmarks' own runners). Each evaluation is one row of
goal_history.csv. With `train.keep` other than `last`, the adapter of the best step so far is
saved under checkpoints/kept/ and becomes the run's adapter at the end; early stopping ends
training on the goal or on a guard's budget. The bookkeeping travels in each checkpoint, so a
resumed run continues it exactly.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from goaltune.checkpoints import STATE_FILE, list_checkpoints, trainable_state
from goaltune.config import RunConfig
from goaltune.errors import ConfigError, RunError
from goaltune.evaluate.task import evaluate_task
from goaltune.goal_rule import best_reason, goal_rank, guard_drop_points, seeded_subset
from goaltune.run_folder import GoalRow, GoalWatchSummary, RunFolder, write_failure

_STATE_KEY = "goal_watch"  # the bookkeeping's key in a checkpoint's state


@dataclass(frozen=True)
class _Bench:
    """A benchmark watched on a fixed subset: its spec, role and loaded subset."""

    spec: str
    role: str  # "task" or "guard"
    benchmark: Any
    loaded: Any
    pool: int  # how many items the subset was drawn from (the final evaluation's count)


@dataclass
class _Book:
    """What a resume must restore: the rows, the best steps so far and why training stopped."""

    rows: list[GoalRow] = field(default_factory=list)
    best_step: int | None = None
    since_best: int = 0
    best_val: tuple[int, float] | None = None
    eval_seconds: float = 0.0
    stop_reason: str | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "rows": [row.model_dump(mode="json") for row in self.rows],
            "best_step": self.best_step,
            "since_best": self.since_best,
            "best_val": list(self.best_val) if self.best_val else None,
            "eval_seconds": self.eval_seconds,
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def load(cls, state: dict[str, Any]) -> _Book:
        val = state.get("best_val")
        return cls(
            rows=[GoalRow.model_validate(row) for row in state["rows"]],
            best_step=state["best_step"],
            since_best=state["since_best"],
            best_val=(int(val[0]), float(val[1])) if val else None,
            eval_seconds=state["eval_seconds"],
            stop_reason=state["stop_reason"],
        )


class GoalWatch:
    """Evaluates the goal during training and keeps the adapter `train.keep` asks for."""

    def __init__(
        self,
        config: RunConfig,
        folder: RunFolder,
        tokenizer: Any,
        items: list[dict[str, Any]],
        benches: list[_Bench],
        task_names: list[str],
        task_pool: int = 0,
    ) -> None:
        self.config, self.folder, self.tokenizer = config, folder, tokenizer
        self.items, self.benches, self.task_names = items, benches, task_names
        self.task_pool = task_pool
        self.book = _Book()

    # ---------------------------------------------------------------- evaluation

    def _scores(self, model: Any) -> tuple[dict[str, float | None], dict[str, float | None]]:
        """Task metric and guard scores of `model` on the subsets (eval mode, no gradients)."""
        from goaltune.evaluate.benchmarks import RunContext

        ev = self.config.eval
        task: dict[str, float | None] = {}
        if self.items:
            result = evaluate_task(
                model,
                self.tokenizer,
                self.items,
                ev.metrics,
                self.config.data.test or self.config.data.train,
                ev.max_new_tokens,
                ev.batch_size,
                ev.bootstrap_resamples,
                show_progress=False,
                style=[check.model_dump() for check in ev.style],
            )
            task = {n: _score(result["metrics"].get(n)) for n in self.task_names}
        guards: dict[str, float | None] = {}
        for bench in self.benches:
            context = RunContext(
                model,
                self.tokenizer,
                ev.batch_size,
                ev.bootstrap_resamples,
                False,
                f"goal: {bench.spec}",
                ev.shared_context,
            )
            result = bench.benchmark.run(context, bench.loaded)
            score = _score(result["metrics"].get(result["primary_metric"]))
            (task if bench.role == "task" else guards)[bench.spec] = score
        return task, guards

    def evaluate(self, model: Any, step: int, epoch: float, tokens: int, elapsed: float) -> float:
        """One row of goal_history.csv for `model` now; returns the seconds it took."""
        started = time.perf_counter()
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                task, guards = self._scores(model)
        finally:
            model.train(was_training)
        ordered = {n: task.get(n) for n in self._task_columns()}
        row = GoalRow(
            step=step,
            epoch=round(epoch, 4),
            tokens_seen=tokens,
            elapsed_s=round(elapsed, 3),
            task=ordered,
            guards=guards,
        )
        self.book.rows.append(row)
        self.folder.write_goal_history(self.book.rows)
        if step > 0:
            self._judge(model, row)
        seconds = time.perf_counter() - started
        self.book.eval_seconds += seconds
        return seconds

    def _task_columns(self) -> list[str]:
        task_benches = [b.spec for b in self.benches if b.role == "task"]
        return [n for n in self.task_names if n not in task_benches] + task_benches

    def _judge(self, model: Any, row: GoalRow) -> None:
        """Update the best step, save its adapter when kept, and decide on early stopping."""
        book, base, stopping = self.book, self.book.rows[0], self.config.train.early_stopping
        best = next((r for r in book.rows if r.step == book.best_step), None)
        if best is None or goal_rank(row, base, self.config) > goal_rank(best, base, self.config):
            book.best_step, book.since_best = row.step, 0
            if self.config.train.keep == "best_goal":
                self._snapshot(model, row.step)
        else:
            book.since_best += 1
        if stopping.patience is not None and book.since_best >= stopping.patience:
            book.stop_reason = (
                f"early stopping: no better goal evaluation in {stopping.patience} evaluations "
                f"after step {book.best_step}"
            )
        budget = self.config.goal.thresholds.investigate_drop_points
        drops = guard_drop_points(row, base)
        over = {name: drop for name, drop in drops.items() if drop > budget}
        if stopping.guard_budget and over and book.stop_reason is None:
            name, drop = max(over.items(), key=lambda kv: kv[1])
            book.stop_reason = (
                f"guard budget: {name} fell {drop:.1f} points below step 0 at step {row.step} "
                f"(more than goal.thresholds.investigate_drop_points = {budget:g})"
            )

    # ---------------------------------------------------------------- the training loop's hooks

    def start(self, model: Any) -> float:
        """The step-0 row: the base model before the first optimizer step (when watching)."""
        if self.config.train.goal_eval_steps is None:
            return 0.0
        row = self._base_row()
        if row is None:
            return self.evaluate(model, 0, 0.0, 0, 0.0)
        self.book.rows.append(row)
        self.folder.write_goal_history(self.book.rows)
        return 0.0

    def _base_row(self) -> GoalRow | None:
        """Step 0 read from eval/before.json, when a run has just scored the base model there on
        every item of the pools (same code, same items): a third of the watch's cost saved.
        None when there is no such file or it does not cover the pools (`goaltune train`)."""
        try:
            before = self.folder.read_eval("before")
        except RunError:
            return None
        seed = self.config.train.seed
        task: dict[str, float | None] = {}
        guards: dict[str, float | None] = {}
        if self.items:
            if before.task is None or len(before.task.items) != self.task_pool:
                return None
            picked = seeded_subset(before.task.items, len(self.items), seed)
            if [i.id for i in picked] != [str(item.get("id")) for item in self.items]:
                return None
            task = {n: _mean(picked, n) for n in self.task_names}
        for bench in self.benches:
            section = before.benchmarks.get(bench.spec)
            if (
                section is None
                or section.primary_metric is None
                or len(section.items) != bench.pool
            ):
                return None
            picked = seeded_subset(section.items, len(bench.loaded.items), seed)
            score = _mean(picked, section.primary_metric)
            (task if bench.role == "task" else guards)[bench.spec] = score
        ordered = {n: task.get(n) for n in self._task_columns()}
        return GoalRow(step=0, epoch=0.0, tokens_seen=0, elapsed_s=0.0, task=ordered, guards=guards)

    def due(self, step: int, total_steps: int) -> bool:
        """Whether the goal is evaluated after `step`."""
        every = self.config.train.goal_eval_steps
        return every is not None and (step % every == 0 or step == total_steps)

    def after_step(self, model: Any, step: int, total: int, result: Any, val: Any) -> float:
        """Called after each optimizer step with the TrainResult so far and the validation loss
        (None when not measured); returns the seconds spent, which are not training time."""
        if val is not None and self.config.train.keep == "best_val_loss":
            if self.book.best_val is None or val < self.book.best_val[1]:
                self.book.best_val = (step, float(val))
                self._snapshot(model, step)
        if not self.due(step, total):
            return 0.0
        return self.evaluate(model, step, result.epochs, result.tokens_seen, result.train_seconds)

    def last_step(self, total_steps: int) -> int:
        """Where training ends: the evaluation that stopped it early, else the planned last step."""
        return self.book.rows[-1].step if self.book.stop_reason else total_steps

    @property
    def stop_reason(self) -> str | None:
        return self.book.stop_reason

    def state(self) -> dict[str, Any]:
        """The bookkeeping for a checkpoint's state (JSON)."""
        return {_STATE_KEY: self.book.dump()}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's state; goal_history.csv is rewritten to match it."""
        if _STATE_KEY in state:
            self.book = _Book.load(state[_STATE_KEY])
        self.folder.write_goal_history(self.book.rows)

    # ---------------------------------------------------------------- the kept adapter

    def _snapshot_path(self, step: int) -> Path:
        return self.folder.kept_dir / f"step-{step:06d}.safetensors"

    def _snapshot(self, model: Any, step: int) -> None:
        """Save the adapter of `step`, then drop snapshots nothing refers to any more."""
        target = self._snapshot_path(step)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_suffix(".tmp")
        try:
            save_file(trainable_state(model), str(staging))
            os.replace(staging, target)
        except OSError as error:
            staging.unlink(missing_ok=True)
            raise write_failure(target, error) from error
        keep = {target.name} | {self._snapshot_path(s).name for s in self._referenced_steps()}
        for old in self.folder.kept_dir.glob("step-*.safetensors"):
            if old.name not in keep:
                old.unlink(missing_ok=True)

    def _referenced_steps(self) -> set[int]:
        """Kept steps that a checkpoint a resume may start from still refers to."""
        steps = set()
        for checkpoint in list_checkpoints(self.folder.checkpoints_dir):
            saved = json.loads((checkpoint / STATE_FILE).read_text()).get(_STATE_KEY)
            if saved:
                steps.add(self._kept_of(_Book.load(saved)))
        return {s for s in steps if s is not None}

    def _kept_of(self, book: _Book) -> int | None:
        """The step a book's best adapter belongs to, for this run's train.keep."""
        if self.config.train.keep == "best_val_loss":
            return book.best_val[0] if book.best_val else None
        return book.best_step

    def kept_step(self, last_step: int) -> int:
        """The step whose adapter the run keeps."""
        kept = None if self.config.train.keep == "last" else self._kept_of(self.book)
        return last_step if kept is None else kept

    def finish(self, model: Any, last_step: int) -> GoalWatchSummary:
        """Put the kept step's adapter into `model`; what training_metrics.json records."""
        kept = self.kept_step(last_step)
        if kept != last_step:
            path = self._snapshot_path(kept)
            try:
                weights = load_file(str(path))
            except OSError as error:
                raise RunError(f"{path}: the kept adapter cannot be read ({error})") from error
            parameters = dict(model.named_parameters())
            with torch.no_grad():
                for name, tensor in weights.items():
                    parameters[name].copy_(tensor)
        return GoalWatchSummary(
            keep=self.config.train.keep,
            kept_step=kept,
            kept_reason=self._kept_reason(kept, last_step),
            evaluations=len(self.book.rows),
            eval_time_s=round(self.book.eval_seconds, 2),
            task_items=len(self.items),
            guard_items={b.spec: len(b.loaded.items) for b in self.benches if b.role == "guard"},
            stopped_early=self.book.stop_reason is not None,
            stop_reason=self.book.stop_reason,
        )

    def _kept_reason(self, kept: int, last_step: int) -> str:
        keep = self.config.train.keep
        if keep == "best_val_loss":
            if self.book.best_val is None:
                return "no validation loss was measured: the last step is kept"
            return f"the lowest validation loss, {self.book.best_val[1]:.4g}, at step {kept}"
        if keep == "last":
            return f"the last step, {last_step} (train.keep: last)"
        row = next(r for r in self.book.rows if r.step == kept)
        return best_reason(row, self.book.rows[0], self.config)


def _score(summary: dict[str, Any] | None) -> float | None:
    return None if summary is None else float(summary["score"])


def _mean(items: list[Any], metric: str) -> float | None:
    """The summary score of `metric` over scored items: the mean of the items that have it."""
    values = [v for item in items if (v := item.metrics.get(metric)) is not None]
    return sum(values) / len(values) if values else None


def _watched_benches(config: RunConfig, task_names: list[str]) -> list[_Bench]:
    """Benchmark task metrics and guards, loaded as the final evaluation loads them, subset."""
    from goaltune.evaluate.benchmarks import Loaded, resolve

    ev, train = config.eval, config.train
    as_task = [n for n in task_names if n in ev.benchmarks and n not in ev.metrics]
    guards = config.goal.guard_benchmarks or [b for b in ev.benchmarks if b not in task_names]
    benches = []
    for spec, role, size in [(s, "task", train.goal_eval_items) for s in as_task] + [
        (s, "guard", train.guard_eval_items) for s in guards
    ]:
        benchmark, options = resolve(spec)
        loaded = benchmark.load(options, ev.benchmark_data_dir, ev.benchmark_limit)
        if role == "guard" and "max_gen_toks" in loaded.settings:  # generation is the cost
            size = min(size, train.guard_generation_items)
        subset = seeded_subset(loaded.items, size, train.seed)
        benches.append(
            _Bench(
                spec,
                role,
                benchmark,
                Loaded(subset, loaded.source, loaded.settings),
                len(loaded.items),
            )
        )
    return benches


def goal_watch_for(
    config: RunConfig, folder: RunFolder, tokenizer: Any, validation_examples: list[Any]
) -> GoalWatch | None:
    """The watch a run's config asks for; None when it watches nothing and keeps the last step."""
    train = config.train
    if train.goal_eval_steps is None and train.keep == "last":
        return None
    from goaltune.data import load_task_items
    from goaltune.distributed import context

    if context().active:
        raise ConfigError(
            "train.goal_eval_steps and train.keep: not supported with several processes"
        )
    task_names = [m.name for m in config.goal.task_metrics] or list(config.eval.metrics)
    if train.goal_eval_steps is None:
        return GoalWatch(config, folder, tokenizer, [], [], [])
    items = load_task_items(config.data, validation_examples, config.eval.limit)
    benches = _watched_benches(config, task_names)
    in_task = [n for n in task_names if n not in {b.spec for b in benches}]
    subset = seeded_subset(items, train.goal_eval_items, train.seed) if in_task else []
    return GoalWatch(config, folder, tokenizer, subset, benches, in_task, len(items))
