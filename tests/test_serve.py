"""`goaltune serve` as a real process on 127.0.0.1: the OpenAI client, plain HTTP and curl get
the text `goaltune generate` prints for the same prompt; streaming and stop sequences agree."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from goaltune.cli import app
from tests.conftest import train_tiny_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")
PROMPT = "Question: 3"
MAX_TOKENS = 12
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(*args: str) -> tuple[subprocess.Popen, str]:
    """`python -m goaltune serve ARGS --port N`, once it answers: (process, base URL)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
        "OMP_NUM_THREADS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "goaltune", "serve", *args, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"goaltune serve exited: {process.stdout.read()}")  # type: ignore[union-attr]
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).close()
            return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise AssertionError("goaltune serve did not answer in time")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_and_tokenizer: Any) -> Path:
    return train_tiny_run(tmp_path_factory.mktemp("serve-run"), tiny_model_and_tokenizer[1])


@pytest.fixture(scope="module")
def server(tiny_run: Path) -> Iterator[str]:
    process, url = start_server(str(tiny_run))
    yield url
    stop_server(process)


@pytest.fixture(scope="module")
def generated(tiny_run: Path) -> str:
    """What `goaltune generate` prints for PROMPT (the adapter's answer)."""
    args = ["generate", str(tiny_run), "--prompt", PROMPT, "--max-new-tokens", str(MAX_TOKENS)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output.split("adapter> ", 1)[1]


@pytest.fixture(scope="module")
def reply(tiny_run: Path) -> str:
    """The exact reply text (not the terminal's), through goaltune's own generation path."""
    from goaltune.adapters import load_run_model
    from goaltune.chat import generate_reply

    messages = [{"role": "user", "content": PROMPT}]
    return generate_reply(load_run_model(tiny_run), messages, MAX_TOKENS)


def client(url: str) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return dict(json.loads(response.read()))


@pytest.mark.integration  # a server process
def test_models_lists_the_run(server: str, tiny_run: Path) -> None:
    with urllib.request.urlopen(f"{server}/models", timeout=10) as response:
        listing = json.loads(response.read())
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == [tiny_run.name]
    assert [m.id for m in client(server).models.list().data] == [tiny_run.name]


@pytest.mark.integration  # a server process
def test_openai_client_gets_the_generate_text(server: str, reply: str, generated: str) -> None:
    assert reply.strip() and generated.strip() == reply.strip()
    answer = client(server).chat.completions.create(
        model="any", messages=[{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS
    )
    assert answer.choices[0].message.content == reply
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage is not None and 0 < answer.usage.completion_tokens <= MAX_TOKENS


@pytest.mark.integration  # a server process
def test_plain_http_and_curl_get_the_same_text(server: str, reply: str) -> None:
    body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS}
    answer = post(server, body)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": reply}
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    command = ["curl", "-s", "-H", "Content-Type: application/json", "-d", json.dumps(body)]
    out = subprocess.run(
        [*command, f"{server}/chat/completions"], capture_output=True, text=True, timeout=60
    )
    assert json.loads(out.stdout)["choices"][0]["message"]["content"] == reply


@pytest.mark.integration  # a server process
def test_stream_chunks_concatenate_to_the_reply(server: str, reply: str) -> None:
    chunks = list(
        client(server).chat.completions.create(
            model="any",
            messages=[{"role": "user", "content": PROMPT}],
            max_tokens=MAX_TOKENS,
            stream=True,
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == reply
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


@pytest.mark.integration  # a server process
def test_stop_sequence_cuts_both_ways(server: str, reply: str) -> None:
    assert len(reply) >= 6, reply
    stop = reply[4:6]
    expected = reply[: reply.find(stop)]
    messages = [{"role": "user", "content": PROMPT}]
    options = {"model": "any", "messages": messages, "max_tokens": MAX_TOKENS, "stop": [stop]}
    answer = client(server).chat.completions.create(**options)
    assert answer.choices[0].message.content == expected
    assert answer.choices[0].finish_reason == "stop"
    chunks = client(server).chat.completions.create(**options, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected


def test_stop_stream_holds_back_a_possible_stop() -> None:
    from goaltune.serve import _StopStream

    cutter = _StopStream(["END"])
    # the last len("END") - 1 characters wait: they may begin the stop sequence
    assert cutter.feed("hello E") == "hello"
    assert cutter.feed("N") == " "
    assert cutter.feed("D and more") == ""
    assert cutter.feed("ignored", final=True) == ""
    plain = _StopStream([])
    assert plain.feed("ab") + plain.feed("c", final=True) == "abc"


def test_other_host_warns_and_bad_target_is_one_line(tmp_path: Path) -> None:
    args = ["serve", str(tmp_path / "nothing-here"), "--host", "0.0.0.0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "no authentication" in result.output
    assert "neither a run folder nor a model" in result.output


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from goaltune.errors import GoaltuneError
    from goaltune.serve import require_serve_extra

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name)
    )
    with pytest.raises(GoaltuneError, match=r"needs uvicorn: pip install 'goaltune\[serve\]'"):
        require_serve_extra()


@pytest.mark.integration  # a server process
def test_a_model_with_an_adapter_serves_the_same_reply(tiny_run: Path, reply: str) -> None:
    from goaltune.run_folder import RunFolder

    model_dir = tiny_run.parent.parent / "tiny-model"
    process, url = start_server(str(model_dir), "--adapter", str(RunFolder(tiny_run).adapter_dir))
    try:
        assert [m.id for m in client(url).models.list().data] == ["tiny-model"]
        body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS}
        assert post(url, body)["choices"][0]["message"]["content"] == reply
    finally:
        stop_server(process)
