"""The sandbox's first process: isolate itself, then start the program (stdlib only).

Started by goaltune.evaluate.sandbox as `python -I -S sandbox_launcher.py` with a fresh session,
a minimal environment and a JSON request on stdin; it never imports goaltune. Each layer is
tried in turn and reported, as one JSON line per stage, on the file descriptor `report_fd`:
namespaces (mount, network, PID, IPC, UTS; a user namespace too when not root), a read-only
file system with a size-limited tmpfs as the working folder and a private /proc, a pids cgroup
(root), resource limits, then fewer privileges (an unused uid when root and the interpreter is
reachable by other users, else no capabilities), and `no_new_privs`. With a PID namespace the
program is PID 1 of it, so every process it starts dies with it, and this process reports its
exit status. Any layer that the machine refuses is reported as unavailable, and the rest apply.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import stat
import sys
from pathlib import Path
from typing import Any

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NAMESPACES = {
    "mount": CLONE_NEWNS,
    "network": CLONE_NEWNET,
    "pid": CLONE_NEWPID,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
}
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
SYS_MOUNT_SETATTR, AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = 442, -100, 0x8000, 1
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, LAST_CAPABILITY = 24, 38, 63
PIDS_V1 = Path("/sys/fs/cgroup/pids")

libc = ctypes.CDLL(None, use_errno=True)


class MountAttr(ctypes.Structure):
    """struct mount_attr of mount_setattr(2)."""

    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    def encode(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    _check(
        libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)),
        f"mount {target}",
    )


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def unshare_namespaces(as_root: bool) -> list[str]:
    """New namespaces for this process (and, for PID, its next child); the names obtained."""
    uid, gid = os.getuid(), os.getgid()
    user = 0 if as_root else CLONE_NEWUSER
    wanted = sum(NAMESPACES.values())
    if libc.unshare(wanted | user) != 0:
        wanted = 0
        for flag in NAMESPACES.values():  # take what the machine allows, one at a time
            if libc.unshare(flag | user) == 0:
                wanted |= flag
                user = 0  # a second user namespace would lose the first one's privileges
    if not as_root and wanted:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    return [name for name, flag in NAMESPACES.items() if wanted & flag]


def join_pids_cgroup(name: str, limit: int) -> str | None:
    """Put this process in a new cgroup-v1 pids group capped at `limit`; its path, or None."""
    if not (PIDS_V1 / "cgroup.procs").is_file():
        return None
    group = PIDS_V1 / name
    try:
        group.mkdir()
        (group / "pids.max").write_text(str(limit))
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return None
    return str(group)


def lock_filesystem(work: str, disk_mb: int, new_proc: bool) -> str:
    """Everything read-only except a tmpfs of `disk_mb` MiB mounted on the working folder."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    notes = []
    if new_proc:
        try:
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            notes.append("a /proc of its own")
        except OSError:
            notes.append("the host's /proc")
    attr = MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    _check(
        libc.syscall(
            SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)
        ),
        "mount_setattr /",
    )
    # mode 0777 is private: the mount exists only in this mount namespace
    _mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, f"size={disk_mb}m,mode=0777")
    os.chdir(work)  # the old cwd is the folder underneath the new mount
    return f"read-only except its folder (tmpfs, {disk_mb} MiB); " + ", ".join(notes)


def set_limits(limits: dict[str, Any]) -> str:
    """CPU seconds, address space, file size, open files, processes and no core files."""
    mib = 1024 * 1024
    chosen = {
        resource.RLIMIT_CPU: limits["cpu_s"],
        resource.RLIMIT_AS: limits["memory_mb"] * mib,
        resource.RLIMIT_FSIZE: limits["file_size_mb"] * mib,
        resource.RLIMIT_NOFILE: limits["open_files"],
        resource.RLIMIT_NPROC: limits["processes"],
        resource.RLIMIT_CORE: 0,
    }
    for which, value in chosen.items():
        resource.setrlimit(which, (value, value))
    return (
        f"cpu {limits['cpu_s']} s, address space {limits['memory_mb']} MiB, file size "
        f"{limits['file_size_mb']} MiB, {limits['open_files']} open files, "
        f"{limits['processes']} processes"
    )


def reachable_by_others(paths: list[str]) -> bool:
    """Whether other users can use each path: every parent searchable, the path readable, and
    searchable or executable where its owner may search or execute it."""
    for path in map(Path, paths):
        if any(not os.stat(folder).st_mode & stat.S_IXOTH for folder in path.parents):
            return False
        mode = os.stat(path).st_mode
        if not mode & stat.S_IROTH or (mode & stat.S_IXUSR and not mode & stat.S_IXOTH):
            return False
    return True


def _bounding_set() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("CapBnd:"))
    return int(line.split()[1], 16)


def drop_privileges(owner: int | None, as_root: bool) -> str:
    """Root becomes the unused uid `owner` when given (it can still run Python), else keeps
    uid 0 without any capability; everyone gets no_new_privs."""
    note = f"uid {os.getuid()}"
    if as_root and owner is not None:
        try:
            os.setgroups([])
            os.setgid(owner)
            os.setuid(owner)
            note = f"unprivileged uid {owner}"
        except OSError as error:
            note = f"uid 0 (switching to uid {owner} failed: {error.strerror})"
    if os.getuid() == 0:
        for capability in range(LAST_CAPABILITY + 1):
            libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)
        note = (
            "uid 0 without capabilities"
            if _bounding_set() == 0
            else "uid 0 WITH capabilities (they could not be dropped)"
        )
        if owner is None:
            note += " (the interpreter is not reachable by other users)"
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    return note + ", no_new_privs"


def _attempt(report: dict[str, str], key: str, step: Any, *args: Any) -> Any:
    """Run one isolation step; on failure record why and carry on without it."""
    try:
        result = step(*args)
    except OSError as error:
        report[key] = f"unavailable ({error.strerror or error})"
        return None
    report[key] = result
    return result


def prepare_and_exec(
    request: dict[str, Any],
    report_fd: int,
    report: dict[str, str],
    as_root: bool,
    namespaces: list[str],
) -> None:
    """The program's own steps: file system, files, limits, privileges, then exec."""
    work = request["work"]
    dropping = as_root and reachable_by_others(request["interpreter_paths"])
    owner = request["uid"] if dropping else None  # root runs the program as this unused uid
    if "mount" in namespaces:
        _attempt(
            report,
            "filesystem",
            lock_filesystem,
            work,
            request["limits"]["disk_mb"],
            "pid" in namespaces,
        )
    else:
        report["filesystem"] = "unavailable (no mount namespace)"
    for name, text in request["files"].items():
        Path(work, name).write_text(text, encoding="utf-8")
    if owner is not None and "tmpfs" not in report.get("filesystem", ""):
        os.chown(work, owner, owner)
    _attempt(report, "limits", set_limits, request["limits"])
    _attempt(report, "privileges", drop_privileges, owner, as_root)
    os.write(report_fd, (json.dumps(report) + "\n").encode())
    os.close(report_fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.execve(request["argv"][0], request["argv"], request["env"])


def wait_and_report(child: int, report_fd: int) -> None:
    """Wait for the program (PID 1 of its namespace) and report how it ended."""
    _, status = os.waitpid(child, 0)
    ending = (
        {"signal": os.WTERMSIG(status)}
        if os.WIFSIGNALED(status)
        else {"exit": os.WEXITSTATUS(status)}
    )
    os.write(report_fd, (json.dumps(ending) + "\n").encode())
    os._exit(0)


def main() -> None:
    """Read the request, isolate, and run the program."""
    request = json.loads(sys.stdin.read())
    report_fd = request["report_fd"]
    as_root = os.geteuid() == 0
    report: dict[str, str] = {}
    if as_root:
        group = join_pids_cgroup(request["cgroup"], request["limits"]["processes"])
        report["cgroup"] = group or "unavailable"
    namespaces = unshare_namespaces(as_root)
    report["namespaces"] = ", ".join(namespaces) or "unavailable"
    report["network"] = (
        "none (own network namespace)" if "network" in namespaces else "the host's network"
    )
    if "pid" not in namespaces:
        prepare_and_exec(request, report_fd, report, as_root, namespaces)
    sys.stdout.flush()
    child = os.fork()  # in the new PID namespace: PID 1
    if child == 0:
        prepare_and_exec(request, report_fd, report, as_root, namespaces)
    wait_and_report(child, report_fd)


if __name__ == "__main__":
    main()
