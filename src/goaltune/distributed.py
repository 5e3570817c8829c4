"""Several processes: who this process is, the collectives goaltune needs, and the launcher.

One process (the default) uses none of Accelerate: `context()` returns a context whose
collectives return their input, so the single-process path is unchanged. Started by
`accelerate launch` (or `goaltune train --num-processes N`, which calls it), WORLD_SIZE > 1 and
the context wraps Accelerate's PartialState: gloo on CPU, NCCL on CUDA, one device per process.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from goaltune.errors import GoaltuneError, RunError

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
EXIT_CODE_ENV = "GOALTUNE_EXIT_CODE_FILE"
_PR_SET_PDEATHSIG = 1


def world_size_from_env() -> int:
    """The number of processes the launcher started (1 when not launched)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True unless a launcher started this process as a non-main rank."""
    return int(os.environ.get("RANK", "0")) == 0


@dataclass(frozen=True)
class Context:
    """This process's place among the processes of a run, and collectives over all of them."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    state: Any = None  # accelerate.PartialState when several processes run

    @property
    def active(self) -> bool:
        """True when several processes share the run."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """The main process writes every run artifact."""
        return self.rank == 0

    def broadcast(self, value: T) -> T:
        """The main process's `value`, on every process."""
        if not self.active:
            return value
        import torch.distributed

        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: T) -> list[T]:
        """Every process's `value`, in rank order, on every process."""
        if not self.active:
            return [value]
        import torch.distributed

        values: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(values, value)
        return values

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sums over the processes (float64)."""
        if not self.active:
            return list(values)
        import torch.distributed

        tensor = torch.tensor(list(values), dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(tensor)
        return tensor.tolist()

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.active:
            import torch.distributed

            torch.distributed.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """The main process runs the block first (it fills caches), then the others."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def on_main(self, write: Callable[[], T]) -> T:
        """Run `write` on the main process only and return its result on every process.

        When it fails with a user error (disk full), every process raises.
        """
        if not self.active:
            return write()
        value, error = None, None
        if self.is_main:
            try:
                value = write()
            except GoaltuneError as failure:
                error = failure
        value, message = self.broadcast((value, str(error) if error else None))
        if error is not None:
            raise error
        if message is not None:
            raise RunError(f"the main process failed: {message}")
        # write() succeeded on the main process, so this is its T (which may itself be None).
        return cast(T, value)

    def share(self, items: Sequence[T]) -> list[T]:
        """This process's share of `items`: every world_size-th one, starting at its rank."""
        return list(items[self.rank :: self.world_size])

    def merge(self, part: dict[int, T]) -> dict[int, T]:
        """The union of every process's `part` (disjoint keys), on every process."""
        if not self.active:
            return part
        merged: dict[int, T] = {}
        for piece in self.gather(part):
            merged.update(piece)
        return merged


@functools.lru_cache(maxsize=1)
def context() -> Context:
    """The context of this process; several processes join their process group here."""
    import torch

    if world_size_from_env() <= 1:
        return Context(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    die_with_parent(signal.SIGTERM)  # an orphaned worker checkpoints and stops
    return Context(
        device=state.device, rank=state.process_index, world_size=state.num_processes, state=state
    )


def die_with_parent(sig: int) -> None:
    """Ask Linux to send `sig` to this process when its parent exits (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch_command(
    args: list[str], num_processes: int | None, config_file: Path | None
) -> list[str]:
    """`accelerate launch ... -m goaltune ARGS`: N processes, or what the Accelerate config says."""
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if config_file is not None:
        command += ["--config_file", str(config_file)]
    else:
        command += [
            "--multi_gpu",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(_free_port()),
        ]
    if num_processes is not None:
        command += ["--num_processes", str(num_processes)]
    return [*command, "-m", "goaltune", *args]


def launch(args: list[str], num_processes: int | None, config_file: Path | None) -> int:
    """Run `goaltune ARGS` in several processes; returns the exit code.

    On failure the main process's own code (2 user error, 1 failed, 130 interrupted) is returned
    when it recorded one, else the launcher's.

    Ctrl-C reaches the launcher from the terminal, which stops the workers with SIGTERM (each
    writes its checkpoint); a SIGTERM sent to this process is passed on the same way.
    """
    import torch

    env = dict(os.environ)
    if not torch.cuda.is_available() and num_processes and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // num_processes))
    with tempfile.TemporaryDirectory(prefix="goaltune-launch-") as folder:
        exit_file = Path(folder) / "exit-code"
        env[EXIT_CODE_ENV] = str(exit_file)
        child = subprocess.Popen(
            launch_command(args, num_processes, config_file),
            env=env,
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),
        )
        previous = {
            signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
            signal.SIGTERM: signal.signal(
                signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM)
            ),
        }
        try:
            code = child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        recorded = exit_file.read_text().strip() if exit_file.is_file() else ""
    if code < 0:  # the launcher was killed by a signal: the shell's 128 + signal number
        code = 128 - code
    return int(recorded) if code != 0 and recorded.isdigit() and recorded != "0" else code


def record_exit_code(code: object) -> None:
    """In a launched main process, leave the exit code where `launch` reads it."""
    path = os.environ.get(EXIT_CODE_ENV)
    if path and is_main_process():
        value = code if isinstance(code, int) else (0 if code is None else 1)
        with contextlib.suppress(OSError):
            Path(path).write_text(str(value))
