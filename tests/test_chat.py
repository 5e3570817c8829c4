"""`goaltune generate` and `goaltune chat` on a tiny trained run (chat also in a real terminal)."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from goaltune.cli import app
from tests.conftest import train_tiny_run

PTY_TIMEOUT_S = 180.0


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_and_tokenizer) -> Path:
    return train_tiny_run(tmp_path_factory.mktemp("chat-run"), tiny_model_and_tokenizer[1])


def test_generate_prints_the_adapter_answer(tiny_run: Path) -> None:
    from goaltune.adapters import load_run_model
    from goaltune.chat import generate_reply

    args = ["generate", str(tiny_run), "--prompt", "Question: 3", "--max-new-tokens", "6"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    answer = result.output.split("adapter> ", 1)[1].strip()
    messages = [{"role": "user", "content": "Question: 3"}]
    expected = generate_reply(load_run_model(tiny_run), messages, 6)
    assert answer and answer == expected.strip()
    result = CliRunner().invoke(app, args + ["--base"])
    assert result.exit_code == 0
    assert result.output.index("adapter> ") < result.output.index("base> ")


def test_base_answer_differs_from_adapter_logits(tiny_run: Path) -> None:
    from goaltune.adapters import load_run_model

    run = load_run_model(tiny_run)
    ids = run.tokenizer("Question: 3", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        tuned = run.model(ids).logits
        with run.model.disable_adapter():
            base = run.model(ids).logits
    assert float((tuned - base).abs().max()) > 1e-3


def test_chat_session_keeps_history_and_resets(
    tiny_run: Path, capsys: pytest.CaptureFixture
) -> None:
    from goaltune.adapters import load_run_model
    from goaltune.chat import ChatSession

    session = ChatSession(load_run_model(tiny_run), max_new_tokens=4, compare_base=True)
    reply = session.ask("Question: 1")
    session.ask("Question: 2")
    assert [m["role"] for m in session.messages] == ["user", "assistant"] * 2
    assert session.messages[1]["content"] == reply
    assert capsys.readouterr().out.count("base>") == 2
    session.run.config.data.system_prompt = "Answer briefly."
    session.reset()
    assert session.messages == [{"role": "system", "content": "Answer briefly."}]


def test_chat_ends_at_end_of_input(tiny_run: Path) -> None:
    args = ["chat", str(tiny_run), "--max-new-tokens", "4"]
    result = CliRunner().invoke(app, args, input="Question: 1\n/reset\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("you> ") == 3 and "adapter> " in result.output
    assert "(history cleared)" in result.output


def _read_until(fd: int, marker: str, buffer: list[str]) -> str:
    """Read the terminal until `marker` appears in output not yet consumed; return that output."""
    deadline = time.monotonic() + PTY_TIMEOUT_S
    while marker not in buffer[0]:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} within {PTY_TIMEOUT_S} s; got {buffer[0]!r}")
        try:
            chunk = os.read(fd, 4096).decode("utf-8", "replace")
        except OSError:  # EIO: the child closed the terminal
            chunk = ""
        if not chunk:
            raise AssertionError(f"terminal closed before {marker!r}; got {buffer[0]!r}")
        buffer[0] += chunk
    seen, _, buffer[0] = buffer[0].partition(marker)
    return seen


def _wait_exit(pid: int, fd: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                os.read(fd, 4096)
            except OSError:
                pass
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
    raise AssertionError("goaltune chat did not exit after /quit")


@pytest.mark.integration
def test_chat_in_a_pseudo_terminal(tiny_run: Path) -> None:
    command = [sys.executable, "-m", "goaltune", "chat", str(tiny_run), "--max-new-tokens", "6"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes goaltune chat on the terminal
        os.execve(sys.executable, command, env)
    buffer, exit_code = [""], None
    try:
        assert "/reset" in _read_until(fd, "you> ", buffer)
        os.write(fd, b"Question: 1\n")
        reply = _read_until(fd, "you> ", buffer)
        assert "Question: 1" in reply and "adapter> " in reply
        assert reply.split("adapter> ", 1)[1].strip()
        os.write(fd, b"/reset\n")
        assert "(history cleared)" in _read_until(fd, "you> ", buffer)
        os.write(fd, b"/quit\n")
        exit_code = _wait_exit(pid, fd)
        assert exit_code == 0
    finally:
        if exit_code is None:  # a failed step: do not leave the child running
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
