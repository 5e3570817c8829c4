"""Run untrusted Python programs (model-written code plus its tests) in a separate, limited process.

Off unless the person running goaltune opts in: `--allow-code-execution` on the command line or
GOALTUNE_ALLOW_CODE_EXECUTION=1 in the environment. A config file cannot opt in by itself, so a
shared config or data file cannot run code on someone else's machine unasked.

Each program runs as `python -I -B bootstrap.py` in a fresh working folder, started by
sandbox_launcher.py, which applies every layer the machine allows and reports which did:
- always: its own process session (killed as a group at the wall-clock timeout), a minimal
  environment (no inherited variables, so no secrets), resource limits (CPU seconds, address
  space, file size, open files, processes) and an in-process guard (an audit hook that refuses
  writes outside the working folder, starting processes, signals, sockets and ctypes; it is
  best effort, as code in the same interpreter can get around it);
- where the kernel allows: network, mount, PID, IPC and UTS namespaces (no network; the whole
  file system read-only except a size-limited tmpfs working folder; a /proc of its own; the
  program is PID 1, so all it starts dies with it);
- as root: a pids cgroup caps the process count (RLIMIT_NPROC does not bind root), and the
  program runs as an unused uid when the interpreter is reachable by other users, else as uid 0
  with no capabilities; always no_new_privs.
A program passes when it exits with status 0 after its last line ran: the bootstrap prints a
random marker after the program returns, so `sys.exit(0)` or `os._exit(0)` before the tests
counts as a failure.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

ALLOW_ENV = "GOALTUNE_ALLOW_CODE_EXECUTION"
OPT_IN = (
    f"pass --allow-code-execution to `goaltune run` / `goaltune eval`, or set {ALLOW_ENV}=1 "
    "in the environment"
)
LAUNCHER = Path(__file__).with_name("sandbox_launcher.py")
PIDS_CGROUPS = Path("/sys/fs/cgroup/pids")  # where the launcher makes its group (root only)
MARK_ENV, GUARD_ENV = "GOALTUNE_SANDBOX_MARK", "GOALTUNE_SANDBOX_GUARD"

BOOTSTRAP = r'''
import os, sys


def _guard(home):
    """Refuse writes outside `home`, new processes, signals, sockets and ctypes (best effort)."""
    refused = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
               "subprocess.Popen", "os.kill", "os.killpg", "socket.connect", "socket.bind",
               "ctypes.dlopen", "os.chroot", "os.setuid", "os.setgid"}
    paths = {"os.remove": 1, "os.rmdir": 1, "os.mkdir": 1, "os.chmod": 1, "os.chown": 1,
             "os.rename": 2, "os.link": 2, "os.symlink": 2, "os.truncate": 1, "os.utime": 1,
             "shutil.rmtree": 1, "os.chdir": 1}
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    realpath, commonpath, fspath, join = (os.path.realpath, os.path.commonpath, os.fspath,
                                          os.path.join)

    def outside(path):
        if isinstance(path, int):
            return False
        path = fspath(path)
        path = path.decode() if isinstance(path, bytes) else path
        full = realpath(join(home, path))
        return commonpath([home, full]) != home

    def hook(event, args):
        if event in refused:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "open":
            path, mode, flags = args
            wants = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & writing)
            if wants and outside(path):
                raise PermissionError(f"sandbox: writing {path!r} outside the working folder")
        elif event in paths and any(outside(p) for p in args[: paths[event]] if p is not None):
            raise PermissionError(f"sandbox: {event} outside the working folder")

    sys.addaudithook(hook)


def _run():
    mark = os.environ.pop("GOALTUNE_SANDBOX_MARK")
    guard = os.environ.pop("GOALTUNE_SANDBOX_GUARD") == "1"
    with open("program.py", encoding="utf-8") as handle:
        code = compile(handle.read(), "program.py", "exec")
    if guard:
        _guard(os.path.realpath(os.getcwd()))
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    sys.stdout.flush()
    os.write(1, ("\n" + mark + "\n").encode())


_run()
'''


@dataclass(frozen=True)
class Limits:
    """Per-program limits: wall clock, memory, output files, tmpfs size, processes, files."""

    timeout_s: float = 10.0
    memory_mb: int = 1024
    file_size_mb: int = 16
    disk_mb: int = 64
    processes: int = 32
    open_files: int = 64
    output_kb: int = 16
    guard: bool = True  # the in-process audit hook (tests turn it off to check the OS layers)


@dataclass(frozen=True)
class Execution:
    """How one program ended: passed, failed or timeout, why, its output tails, the isolation."""

    status: str
    reason: str
    stdout: str
    stderr: str
    elapsed_s: float
    isolation: dict[str, str]

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def code_execution_allowed() -> bool:
    """Whether the person running goaltune opted in to running model-written code."""
    return os.environ.get(ALLOW_ENV, "").strip().lower() in {"1", "true", "yes"}


def allow_code_execution() -> None:
    """Opt in for this process (what --allow-code-execution does)."""
    os.environ[ALLOW_ENV] = "1"


def _interpreter_paths() -> list[str]:
    """What a program's interpreter reads: the executable and the standard library."""
    return [os.path.realpath(sys.executable), sysconfig.get_paths()["stdlib"]]


def _request(program: str, work: Path, limits: Limits, report_fd: int, mark: str) -> dict[str, Any]:
    """What the launcher needs: files, command, environment, identity and limits."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work),
        "TMPDIR": str(work),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        MARK_ENV: mark,
        GUARD_ENV: "1" if limits.guard else "0",
    }
    return {
        "report_fd": report_fd,
        "work": str(work),
        "files": {"bootstrap.py": BOOTSTRAP, "program.py": program},
        "argv": [sys.executable, "-I", "-B", "bootstrap.py"],
        "env": env,
        "interpreter_paths": _interpreter_paths(),
        "uid": 1_500_000_000 + secrets.randbelow(100_000_000),
        "cgroup": f"goaltune-sandbox-{secrets.token_hex(6)}",
        "limits": {
            "cpu_s": math.ceil(limits.timeout_s) + 1,
            "memory_mb": limits.memory_mb,
            "file_size_mb": limits.file_size_mb,
            "disk_mb": limits.disk_mb,
            "processes": limits.processes,
            "open_files": limits.open_files,
        },
    }


def _tail(path: Path, kilobytes: int) -> str:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - kilobytes * 1024))
        return handle.read().decode("utf-8", errors="replace")


def _read_report(report: BinaryIO) -> tuple[dict[str, str], dict[str, int]]:
    """(isolation applied, how the program ended) from the launcher's report lines."""
    lines = [json.loads(line) for line in report.read().splitlines() if line.strip()]
    ending: dict[str, int] = next(
        (line for line in lines if "exit" in line or "signal" in line), {}
    )
    isolation: dict[str, str] = next((line for line in lines if "namespaces" in line), {})
    return isolation, ending


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _verdict(
    timed_out: bool, returncode: int, ending: dict[str, int], marked: bool, timeout_s: float
) -> tuple[str, str]:
    """(status, reason) from how the process ended and whether the marker was printed."""
    if timed_out:
        return "timeout", f"no result within {timeout_s:g} s (killed)"
    if "signal" in ending or returncode < 0:
        number = ending.get("signal", -returncode)
        return "failed", f"killed by {_signal_name(number)}"
    code = ending.get("exit", returncode)
    if code != 0:
        return "failed", f"exit status {code}"
    if not marked:
        return "failed", "the program exited before its last line ran"
    return "passed", "all tests ran"


def _remove_cgroup(name: str) -> None:
    """Remove the launcher's pids cgroup once the kernel has reaped its processes."""
    group = PIDS_CGROUPS / name
    for _ in range(50):
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def _start(work: Path, host: Path, request: dict[str, Any]) -> subprocess.Popen:
    """The launcher, in a session of its own, with the request on its stdin."""
    try:
        with (host / "stdout").open("wb") as out, (host / "stderr").open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(LAUNCHER)],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                pass_fds=(request["report_fd"],),
                start_new_session=True,
                cwd=work,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            )
    finally:
        os.close(request["report_fd"])
    try:
        process.stdin.write(json.dumps(request).encode())  # type: ignore[union-attr]
        process.stdin.close()  # type: ignore[union-attr]
    except BrokenPipeError:
        pass  # the launcher died at once; its stderr says why
    return process


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _wait(process: subprocess.Popen, timeout_s: float) -> bool:
    """Wait up to the timeout, then kill the whole group; whether the timeout struck."""
    try:
        process.wait(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(process)  # also whatever the program left running
    process.wait()
    return timed_out


def _outcome(
    process: subprocess.Popen,
    timed_out: bool,
    host: Path,
    report: BinaryIO,
    mark: str,
    limits: Limits,
    elapsed: float,
) -> Execution:
    """How the program ended, from the launcher's report, its status and the output files."""
    isolation, ending = _read_report(report)
    stdout = _tail(host / "stdout", limits.output_kb)
    stderr = _tail(host / "stderr", limits.output_kb)
    if not isolation and not timed_out:
        last = (stderr.strip().splitlines() or ["it gave no report"])[-1]
        return Execution(
            "error", f"the sandbox could not start the program: {last}", stdout, stderr, elapsed, {}
        )
    line = f"\n{mark}\n"
    status, reason = _verdict(
        timed_out, process.returncode, ending, line in stdout, limits.timeout_s
    )
    return Execution(status, reason, stdout.replace(line, "\n"), stderr, elapsed, isolation)


def run_python(program: str, limits: Limits = Limits()) -> Execution:
    """Run `program` (Python source) in the sandbox; never raises for what the program does.

    Status `error` means the sandbox itself could not start the program (see `reason`).
    """
    host = Path(tempfile.mkdtemp(prefix="goaltune-sandbox-"))
    os.chmod(host, 0o711)
    work = host / "work"
    work.mkdir(mode=0o700)
    read_fd, write_fd = os.pipe()
    request = _request(program, work, limits, write_fd, secrets.token_hex(16))
    try:
        with os.fdopen(read_fd, "rb") as report:
            started = time.perf_counter()
            process = _start(work, host, request)
            timed_out = _wait(process, limits.timeout_s)
            elapsed = round(time.perf_counter() - started, 3)
            return _outcome(
                process, timed_out, host, report, request["env"][MARK_ENV], limits, elapsed
            )
    finally:
        _remove_cgroup(request["cgroup"])
        shutil.rmtree(host, ignore_errors=True)
