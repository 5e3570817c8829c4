"""`goaltune serve`: one model (a run's base + adapter, or any model goaltune loads) behind an
OpenAI-compatible API: `GET /v1/models` and `POST /v1/chat/completions`, streaming included.

Replies come from `chat.model_reply`, the path `goaltune generate` takes, and are always greedy,
so the server's text equals `goaltune generate`'s for the same prompt. One request generates at a
time; the others wait their turn.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from goaltune.errors import GoaltuneError, ModelError, RunError
from goaltune.extras import require

if TYPE_CHECKING:
    from fastapi import FastAPI

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_TOKENS = 256


def require_serve_extra() -> None:
    """GoaltuneError naming the pip extra when FastAPI or uvicorn is missing."""
    require("goaltune serve", ["fastapi", "uvicorn"], "serve")


@dataclass
class ServedModel:
    """What the server answers with: the model, its tokenizer, its name, a default system prompt."""

    model: Any
    tokenizer: Any
    name: str
    system_prompt: str | None = None


def load_served(target: str, adapter: Path | None = None) -> ServedModel:
    """A run folder (or run name) with its adapter, or any model goaltune loads (+ `adapter`)."""
    from goaltune.adapters import load_adapter, load_run_model
    from goaltune.config import ModelConfig
    from goaltune.models import load_model_and_tokenizer
    from goaltune.run_folder import RunFolder, resolve_run_dir

    try:
        run_dir: Path | None = resolve_run_dir(target)
    except RunError:
        run_dir = None
    if run_dir is not None and RunFolder(run_dir).config_path.is_file():
        if adapter is not None:
            raise GoaltuneError(f"{target} is a run folder and brings its adapter; drop --adapter")
        run = load_run_model(run_dir)
        return ServedModel(run.model, run.tokenizer, run_dir.name, run.config.data.system_prompt)
    try:
        model, tokenizer = load_model_and_tokenizer(ModelConfig(name_or_path=target))
    except ModelError as error:
        raise ModelError(f"{target}: neither a run folder nor a model goaltune loads") from error
    if adapter is not None:
        model = load_adapter(model, adapter)
    return ServedModel(model, tokenizer, Path(target).name or target)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str | list[dict[str, Any]]

    def text(self) -> str:
        """The content as text; a list of parts contributes its text parts."""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(part.get("text", "")) for part in self.content)


class ChatRequest(BaseModel):
    """The fields of a chat-completions request the server uses; sampling options are ignored
    (replies are greedy)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[_Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    stream: bool = False

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    def limit(self) -> int:
        return self.max_completion_tokens or self.max_tokens or DEFAULT_MAX_TOKENS


class _StopStream:
    """Turns the streamer's growing text into deltas, holding back a possible stop's prefix."""

    def __init__(self, stops: list[str]) -> None:
        self.stops, self.text, self.sent, self.stopped = stops, "", 0, False
        self.hold = max((len(s) for s in stops), default=1) - 1

    def feed(self, piece: str, final: bool = False) -> str:
        if self.stopped:
            return ""
        self.text += piece
        cut = min((self.text.find(s) for s in self.stops if s in self.text), default=-1)
        if cut >= 0:
            self.stopped, end = True, cut
        else:
            end = len(self.text) if final else max(self.sent, len(self.text) - self.hold)
        delta, self.sent = self.text[self.sent : end], end
        return delta


class Server:
    """The API over one served model; `app()` builds the FastAPI application."""

    def __init__(self, served: ServedModel) -> None:
        self.served = served
        self.created = int(time.time())
        self.lock = threading.Lock()

    def messages(self, request: ChatRequest) -> list[dict[str, str]]:
        """The request's conversation; the run's system prompt leads when it brings none."""
        messages = [{"role": m.role, "content": m.text()} for m in request.messages]
        system = self.served.system_prompt
        if system and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": system})
        return messages

    def models(self) -> dict[str, Any]:
        entry = {"id": self.served.name, "object": "model", "created": self.created}
        return {"object": "list", "data": [{**entry, "owned_by": "goaltune"}]}

    def complete(self, request: ChatRequest) -> dict[str, Any]:
        from goaltune.chat import model_reply

        served = self.served
        with self.lock:
            reply = model_reply(
                served.model,
                served.tokenizer,
                self.messages(request),
                request.limit(),
                stop=request.stops(),
            )
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": reply.text},
            "finish_reason": reply.finish_reason,
        }
        usage = {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }
        return {**self._head("chat.completion"), "choices": [choice], "usage": usage}

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`."""
        from transformers import TextIteratorStreamer

        from goaltune.chat import model_reply

        served, head = self.served, self._head("chat.completion.chunk")
        streamer = TextIteratorStreamer(
            served.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        result: dict[str, Any] = {}

        def work() -> None:
            with self.lock:
                try:
                    result["reply"] = model_reply(
                        served.model,
                        served.tokenizer,
                        self.messages(request),
                        request.limit(),
                        stop=request.stops(),
                        streamer=streamer,
                    )
                finally:
                    streamer.end()

        def chunk(delta: dict[str, str], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return f"data: {json.dumps({**head, 'choices': [choice]})}\n\n"

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        yield chunk({"role": "assistant", "content": ""})
        cutter = _StopStream(request.stops())
        for piece in streamer:
            if delta := cutter.feed(piece):
                yield chunk({"content": delta})
        if delta := cutter.feed("", final=True):
            yield chunk({"content": delta})
        worker.join()
        yield chunk({}, result["reply"].finish_reason if "reply" in result else "stop")
        yield "data: [DONE]\n\n"

    def _head(self, kind: str) -> dict[str, Any]:
        identity = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        return {
            "id": identity,
            "object": kind,
            "created": int(time.time()),
            "model": self.served.name,
        }

    def app(self) -> FastAPI:
        from fastapi import FastAPI
        from fastapi.responses import StreamingResponse

        api = FastAPI(title=f"goaltune serve: {self.served.name}")
        api.get("/v1/models")(self.models)

        @api.post("/v1/chat/completions", response_model=None)
        def chat_completions(request: ChatRequest) -> dict[str, Any] | StreamingResponse:
            if request.stream:
                return StreamingResponse(self.stream(request), media_type="text/event-stream")
            return self.complete(request)

        return api


def serve(served: ServedModel, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Answer on http://HOST:PORT/v1 until interrupted."""
    import uvicorn

    uvicorn.run(Server(served).app(), host=host, port=port, log_level="warning")
