"""Detect a record's format and normalize it to chat messages (or plain text).

Formats: chat `messages` (role/content), Alpaca (`instruction`, `input`, `output`),
`prompt`/`completion`, and plain `text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from goaltune.data.loading import Location, RawRecord
from goaltune.errors import DataError

FORMATS = ("messages", "alpaca", "prompt_completion", "text")
ROLES = ("system", "user", "assistant")

_SIGNATURES: dict[str, tuple[str, ...]] = {
    "messages": ("messages",),
    "alpaca": ("instruction", "output"),
    "prompt_completion": ("prompt", "completion"),
    "text": ("text",),
}


@dataclass
class Example:
    """One normalized example: chat messages, or plain text when `messages` is empty."""

    messages: list[dict[str, str]] = field(default_factory=list)
    text: str | None = None
    location: Location | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def detect_format(fields: dict[str, Any]) -> str | None:
    """The format whose required fields a record has, or None."""
    for name, required in _SIGNATURES.items():
        if all(key in fields for key in required):
            return name
    return None


def detect_dataset_format(records: list[RawRecord]) -> str:
    """The format of a dataset, judged by its first record; raises DataError when unknown."""
    if not records:
        raise DataError("no records to tell the data format from")
    first = records[0]
    found = detect_format(first.fields)
    if found is None:
        keys = ", ".join(sorted(first.fields)) or "none"
        raise DataError(
            f"{first.location}: cannot tell the data format from fields [{keys}]; expected "
            "'messages', 'instruction'+'output', 'prompt'+'completion' or 'text' "
            "(or set data.format)"
        )
    return found


def _text_field(record: RawRecord, name: str, required: bool = True) -> str:
    value = record.fields.get(name)
    if value is None or (isinstance(value, float) and value != value):  # CSV/Parquet NaN
        if required:
            raise DataError(f"{record.location}: missing field '{name}'")
        return ""
    if not isinstance(value, str):
        raise DataError(
            f"{record.location}: field '{name}' must be a string, got {type(value).__name__}"
        )
    return value


def _messages(record: RawRecord) -> list[dict[str, str]]:
    value = record.fields.get("messages")
    if not isinstance(value, list) or not value:
        raise DataError(f"{record.location}: field 'messages' must be a non-empty list")
    messages = []
    for index, message in enumerate(value):
        where = f"{record.location}: messages[{index}]"
        if not isinstance(message, dict):
            raise DataError(f"{where} must be an object with 'role' and 'content'")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise DataError(f"{where}.role: unknown role {role!r} (use {', '.join(ROLES)})")
        if not isinstance(content, str):
            raise DataError(f"{where}.content must be a string, got {type(content).__name__}")
        messages.append({"role": role, "content": content})
    return messages


def normalize(record: RawRecord, data_format: str, system_prompt: str | None = None) -> Example:
    """Turn one raw record into an Example in the given format; errors name file/line/field."""
    if data_format == "text":
        return Example(text=_text_field(record, "text"), location=record.location)
    if data_format == "messages":
        messages = _messages(record)
    elif data_format == "alpaca":
        instruction = _text_field(record, "instruction")
        extra_input = _text_field(record, "input", required=False)
        prompt = f"{instruction}\n\n{extra_input}" if extra_input.strip() else instruction
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": _text_field(record, "output")},
        ]
    elif data_format == "prompt_completion":
        messages = [
            {"role": "user", "content": _text_field(record, "prompt")},
            {"role": "assistant", "content": _text_field(record, "completion")},
        ]
    else:
        raise DataError(f"unknown data format '{data_format}' (use {', '.join(FORMATS)})")
    if system_prompt and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system_prompt})
    extra = {k: v for k, v in record.fields.items() if k not in _SIGNATURES[data_format]}
    return Example(messages=messages, location=record.location, extra=extra)


def normalize_all(
    records: list[RawRecord], data_format: str = "auto", system_prompt: str | None = None
) -> tuple[list[Example], str]:
    """Normalize every record; returns the examples and the format used."""
    chosen = detect_dataset_format(records) if data_format == "auto" else data_format
    return [normalize(record, chosen, system_prompt) for record in records], chosen
