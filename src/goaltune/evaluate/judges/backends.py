"""Where judge replies come from: a model goaltune loads, run in-process, or any OpenAI-compatible
chat-completions endpoint through the official `openai` client.

Both answer greedily. The endpoint client gets the judge's timeout and retries (the client backs
off exponentially between tries); requests run on a thread pool of `concurrency` workers.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from goaltune.config import JudgeConfig, ModelConfig
from goaltune.errors import ConfigError, GoaltuneError
from goaltune.evaluate.judges.prompts import Messages
from goaltune.extras import require


class Backend(Protocol):
    """Answers judge requests; `identity` keys the cache, `requests` counts what was sent."""

    identity: str
    requests: int

    def ask(self, requests: list[Messages]) -> list[str]: ...


@functools.lru_cache(maxsize=2)
def _local_model(name_or_path: str) -> tuple[Any, Any]:
    """A judge model, loaded once per process (the before and after evaluations share it)."""
    from goaltune.distributed import context
    from goaltune.hardware import place_model
    from goaltune.models import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(ModelConfig(name_or_path=name_or_path))
    place_model(model, context().device)
    return model, tokenizer


class LocalJudge:
    """A model goaltune loads, answering through the evaluation's batched greedy generation."""

    def __init__(self, config: JudgeConfig, batch_size: int) -> None:
        assert config.model is not None  # the config allows no judge without model or base_url
        self.model_name, self.max_tokens, self.batch_size = (
            config.model,
            config.max_tokens,
            batch_size,
        )
        self.identity = f"local {config.model}, max_tokens {config.max_tokens}"
        self.requests = 0

    def ask(self, requests: list[Messages]) -> list[str]:
        from goaltune.evaluate.generation import generate_texts, render_prompts

        model, tokenizer = _local_model(self.model_name)
        self.requests += len(requests)
        prompts = render_prompts(tokenizer, requests)
        return generate_texts(
            model, tokenizer, prompts, self.max_tokens, self.batch_size, show_progress=False
        )


class EndpointJudge:
    """An OpenAI-compatible endpoint (vLLM, llama.cpp's server, Ollama, OpenAI, goaltune serve)."""

    def __init__(self, name: str, config: JudgeConfig) -> None:
        assert config.base_url is not None
        require(f"eval.judges.{name} (a base_url judge)", ["openai"], "serve", ConfigError)
        from openai import OpenAI

        self.name, self.config, self.url = name, config, config.base_url.rstrip("/")
        named = config.model or "first listed"
        self.identity = f"{self.url}, model {named}, max_tokens {config.max_tokens}"
        self.requests = 0
        self.model: str | None = config.model
        self.client = OpenAI(
            base_url=self.url,
            api_key=self._api_key(),
            timeout=config.timeout,
            max_retries=config.max_retries,
        )

    def _api_key(self) -> str:
        variable = self.config.api_key_env
        if variable is None:
            return "none"  # local servers take any key; the client insists on one
        key = os.environ.get(variable)
        if not key:
            raise ConfigError(f"eval.judges.{self.name}.api_key_env: {variable} is not set")
        return key

    def _failure(self, error: Exception) -> GoaltuneError:
        import openai

        if isinstance(error, openai.APIConnectionError):  # refused, unresolvable, timed out
            why = "timed out" if isinstance(error, openai.APITimeoutError) else "unreachable"
            return ConfigError(
                f"eval.judges.{self.name}.base_url: the judge endpoint {self.url} is {why} "
                f"({error.__cause__ or error}); start the server or fix base_url"
            )
        status = getattr(error, "status_code", "?")
        return GoaltuneError(f"judge endpoint {self.url} answered {status}: {error}")

    def probe(self) -> list[str]:
        """The endpoint's model names (GET /models); one clear error when it cannot answer."""
        import openai

        try:
            names = [entry.id for entry in self.client.models.list().data]
        except openai.OpenAIError as error:
            raise self._failure(error) from error
        if self.model is None and not names:
            raise ConfigError(f"eval.judges.{self.name}: {self.url} lists no model; set model")
        return names

    def ask(self, requests: list[Messages]) -> list[str]:
        """The replies, asked by the main process only (each request is sent once, whatever the
        number of processes) and shared with the others, errors included."""
        from goaltune.distributed import context

        dist = context()
        answer: tuple[list[str], GoaltuneError | None] = ([], None)
        if dist.is_main:
            try:
                answer = (self._ask_all(requests), None)
            except GoaltuneError as failure:
                answer = ([], failure)
        replies, problem = dist.broadcast(answer)
        if problem is not None:
            raise problem
        return replies

    def _ask_all(self, requests: list[Messages]) -> list[str]:
        if self.model is None:
            self.model = self.probe()[0]
        self.requests += len(requests)  # judge requests; the client's retries are not counted
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            return list(pool.map(self._one, requests))

    def _one(self, messages: Messages) -> str:
        import openai

        try:
            reply = self.client.chat.completions.create(
                model=self.model or "",
                messages=messages,  # type: ignore[arg-type]
                max_tokens=self.config.max_tokens,
                temperature=0.0,
            )
        except openai.OpenAIError as error:
            raise self._failure(error) from error
        return reply.choices[0].message.content or ""


def backend(name: str, config: JudgeConfig, batch_size: int) -> Backend:
    """The judge's backend: its endpoint when it has a base_url, else its local model."""
    if config.base_url is not None:
        return EndpointJudge(name, config)
    return LocalJudge(config, batch_size)


def probe_judges(judges: dict[str, JudgeConfig]) -> None:
    """Ask every endpoint judge for its models, so a dead URL fails before any training."""
    for name, config in judges.items():
        if config.base_url is not None:
            EndpointJudge(name, config).probe()
