"""The sandbox for model-written code: what passes, what fails, and that nothing escapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from goaltune.evaluate.sandbox import Limits, run_python

FAST = Limits(timeout_s=3.0)
UNGUARDED = Limits(timeout_s=3.0, guard=False)  # only the OS layers


@pytest.fixture(scope="module")
def isolation() -> dict[str, str]:
    result = run_python("pass\n", FAST)
    assert result.passed, result
    return result.isolation


def _needs(isolation: dict[str, str], layer: str, marker: str) -> None:
    if marker not in isolation.get(layer, ""):
        pytest.skip(f"this machine does not allow that layer ({layer}: {isolation.get(layer)})")


def test_a_correct_solution_passes():
    result = run_python(
        "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\nprint('ok')\n", FAST
    )
    assert (result.status, result.reason) == ("passed", "all tests ran")
    assert result.stdout.strip() == "ok"  # the success marker is not shown


def test_a_failing_test_fails_with_its_error():
    result = run_python("assert 1 + 1 == 3, 'arithmetic'\n", FAST)
    assert (result.status, result.reason) == ("failed", "exit status 1")
    assert "AssertionError: arithmetic" in result.stderr


@pytest.mark.parametrize(
    "exit_call", ["import sys\nsys.exit(0)", "import os\nos._exit(0)", "raise SystemExit"]
)
def test_exiting_before_the_tests_fails(exit_call):
    result = run_python(f"{exit_call}\nassert False, 'the tests'\n", FAST)
    assert result.status == "failed"
    assert result.reason == "the program exited before its last line ran"


def test_an_infinite_loop_times_out_quickly():
    result = run_python("while True:\n    pass\n", Limits(timeout_s=1.5))
    assert result.status == "timeout"
    assert result.elapsed_s < 5


@pytest.mark.parametrize("limits", [FAST, UNGUARDED], ids=["guarded", "os-layers-only"])
def test_a_10_gb_allocation_fails(limits):
    result = run_python("block = bytearray(10 * 1024 ** 3)\nprint(len(block))\n", limits)
    assert result.status == "failed" and "MemoryError" in result.stderr


def test_a_fork_bomb_fails_at_the_guard():
    result = run_python("import os\nwhile True:\n    os.fork()\n", FAST)
    assert result.status == "failed" and "os.fork is not allowed" in result.stderr


def test_a_fork_bomb_fails_at_the_process_limit(isolation):
    capped = (
        "cgroup" in isolation
        and isolation["cgroup"].startswith("/")
        or "unprivileged" in isolation.get("privileges", "")
        or os.geteuid() != 0
    )
    if not capped:
        pytest.skip("no process cap binds here (root without a pids cgroup or another uid)")
    result = run_python("import os\nwhile True:\n    os.fork()\n", UNGUARDED)
    assert result.status in {"failed", "timeout"}
    assert result.status == "timeout" or "Resource temporarily unavailable" in result.stderr


@pytest.mark.parametrize("target", ["/tmp", "/root", "/work"])
def test_a_write_outside_its_folder_fails_at_the_guard(tmp_path, target):
    victim = Path(target) / f"goaltune-sandbox-escape-{os.getpid()}"
    result = run_python(f"open({str(victim)!r}, 'w').write('x')\n", FAST)
    assert result.status == "failed" and "outside the working folder" in result.stderr
    assert not victim.exists()


def test_a_write_outside_its_folder_fails_at_the_file_system(isolation):
    _needs(isolation, "filesystem", "read-only")
    victim = Path("/tmp") / f"goaltune-sandbox-escape-{os.getpid()}"
    for code, error in (
        (f"open({str(victim)!r}, 'w').write('x')", "Read-only file system"),
        (f"import os\nos.rename('program.py', {str(victim)!r})", "cross-device"),
        ("import os\nos.remove('/etc/hostname')", "Read-only file system"),
    ):
        result = run_python(code + "\n", UNGUARDED)
        assert result.status == "failed" and error in result.stderr
    assert not victim.exists() and Path("/etc/hostname").exists()


def test_writes_inside_its_folder_work_and_are_capped():
    inside = (
        "with open('notes.txt', 'w') as f:\n    f.write('x' * 1000)\n"
        "assert open('notes.txt').read() == 'x' * 1000\n"
    )
    assert run_python(inside, FAST).passed
    big = run_python(
        "with open('big', 'wb') as f:\n    f.write(b'x' * (64 * 1024 ** 2))\n", UNGUARDED
    )  # beyond the 16 MiB file size limit
    assert big.status == "failed" and "File too large" in big.stderr


def test_filling_the_disk_fails(isolation):
    _needs(isolation, "filesystem", "tmpfs")
    code = (
        "for n in range(100):\n"
        "    with open(f'part{n}', 'wb') as f:\n        f.write(b'x' * (8 * 1024 ** 2))\n"
    )
    result = run_python(code, UNGUARDED)  # 800 MiB in files under the size limit
    assert result.status == "failed" and "No space left on device" in result.stderr


def test_the_environment_holds_no_secrets(monkeypatch):
    monkeypatch.setenv("GOALTUNE_TEST_SECRET", "hunter2")
    result = run_python(
        "import os\nassert 'GOALTUNE_TEST_SECRET' not in os.environ\n"
        "assert not any('SANDBOX_MARK' in k for k in os.environ)\n"
        "assert os.getcwd() == os.environ['HOME']\n",
        FAST,
    )
    assert result.passed, result.stderr


def test_no_network(isolation):
    _needs(isolation, "network", "none")
    code = "import socket\nsocket.create_connection(('192.0.2.1', 80), timeout=1)\n"
    result = run_python(code, UNGUARDED)
    assert result.status == "failed" and "unreachable" in result.stderr.lower()


def test_signals_cannot_reach_the_run(isolation):
    _needs(isolation, "namespaces", "pid")
    result = run_python("import os, signal\nos.kill(-1, signal.SIGKILL)\n", UNGUARDED)
    assert result.status == "failed"  # it killed itself and nothing else: this test still runs


def test_isolation_is_reported(isolation):
    assert {"namespaces", "network", "filesystem", "limits", "privileges"} <= set(isolation)
    assert "cpu 4 s, address space 1024 MiB" in isolation["limits"]
    assert "no_new_privs" in isolation["privileges"]


def test_a_broken_sandbox_is_an_error_not_a_failed_program(monkeypatch, tmp_path):
    from goaltune.evaluate import sandbox

    monkeypatch.setattr(sandbox, "LAUNCHER", tmp_path / "missing_launcher.py")
    result = run_python("pass\n", FAST)
    assert result.status == "error" and "could not start the program" in result.reason
    assert "missing_launcher.py" in result.reason
