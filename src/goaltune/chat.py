"""Talk to a run's fine-tuned model: one-shot generation and an interactive streaming chat."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from goaltune.adapters import RunModel

CHAT_HELP = "/reset clears the conversation, /quit (or Ctrl-D) exits."


def _sampling(temperature: float) -> dict[str, Any]:
    if temperature > 0:
        return {"do_sample": True, "temperature": temperature}
    return {"do_sample": False}


def generate_reply(
    run: RunModel,
    messages: list[dict[str, str]],
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    base: bool = False,
    stream: bool = False,
) -> str:
    """The assistant's next reply to `messages` (streamed to stdout when `stream`).

    `base` answers with the adapter disabled, i.e. as the base model would.
    """
    from transformers import TextStreamer

    streamer = None
    if stream:
        streamer = TextStreamer(run.tokenizer, skip_prompt=True, skip_special_tokens=True)
    with run.model.disable_adapter() if base else nullcontext():
        reply = model_reply(
            run.model, run.tokenizer, messages, max_new_tokens, temperature, streamer=streamer
        )
    return reply.text


@dataclass(frozen=True)
class Reply:
    """A generated reply: its text (cut before any stop sequence) and how generation ended."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (EOS or a stop sequence) or "length" (max_new_tokens reached)


@torch.no_grad()
def model_reply(
    model: Any,
    tokenizer: Any,
    messages: list[dict[str, str]],
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    stop: list[str] | None = None,
    streamer: Any = None,
) -> Reply:
    """The next reply of any loaded model to `messages`; `streamer` receives the text as it grows.

    Generation ends at EOS, after `max_new_tokens`, or once the text holds a stop sequence.
    """
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    encoded = encoded.to(next(model.parameters()).device)
    stops = [s for s in stop or [] if s]
    output = model.generate(
        **encoded,
        max_new_tokens=max_new_tokens,
        streamer=streamer,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **({"stop_strings": stops, "tokenizer": tokenizer} if stops else {}),
        **_sampling(temperature),
    )
    new_tokens = output[0, encoded["input_ids"].shape[1] :]
    text = tokenizer.decode(new_tokens, skip_special_tokens=True)
    cut = min((text.find(s) for s in stops if s in text), default=-1)
    ended = cut >= 0 or len(new_tokens) < max_new_tokens or new_tokens[-1] == tokenizer.eos_token_id
    return Reply(
        text if cut < 0 else text[:cut],
        int(encoded["input_ids"].shape[1]),
        len(new_tokens),
        "stop" if ended else "length",
    )


@dataclass
class ChatSession:
    """A conversation with a run's model; the adapter's replies form the history."""

    run: RunModel
    max_new_tokens: int = 256
    temperature: float = 0.0
    compare_base: bool = False
    messages: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the conversation (the run's system prompt, if any, stays)."""
        system = self.run.config.data.system_prompt
        self.messages = [{"role": "system", "content": system}] if system else []

    def ask(self, text: str) -> str:
        """Answer one user turn, streaming to stdout; with `compare_base` the base answers too."""
        self.messages.append({"role": "user", "content": text})
        print("adapter> ", end="", flush=True)
        reply = generate_reply(
            self.run, self.messages, self.max_new_tokens, self.temperature, stream=True
        )
        if self.compare_base:
            print("base>    ", end="", flush=True)
            generate_reply(
                self.run,
                self.messages,
                self.max_new_tokens,
                self.temperature,
                base=True,
                stream=True,
            )
        self.messages.append({"role": "assistant", "content": reply})
        return reply


def chat_loop(session: ChatSession) -> None:
    """Read user lines until /quit or end of input; /reset clears the history."""
    print(f"chatting with {session.run.run_dir.name}. {CHAT_HELP}", flush=True)
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            print()
            return
        if line == "/quit":
            return
        if line == "/reset":
            session.reset()
            print("(history cleared)", flush=True)
        elif line:
            session.ask(line)
