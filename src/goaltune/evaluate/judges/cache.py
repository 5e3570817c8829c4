"""Judgments on disk, so a rerun (or `goaltune verdict`) asks the judge nothing it answered before.

One JSON file per request, `<folder>/<sha256>.json`, keyed by the judge (its model, or its URL and
model name, and the reply length) and the exact messages it was sent, which hold the rubric, the
mode's question, the prompt and the answer or answers in their order. Greedy judges answer the
same request the same way, so the stored reply is the reply.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from goaltune.evaluate.judges.prompts import Messages
from goaltune.models import cache_dir
from goaltune.run_folder import read_json, utc_now, write_json


def default_folder() -> Path:
    """`judgments/` in goaltune's cache folder (GOALTUNE_CACHE or ~/.cache/goaltune)."""
    return cache_dir() / "judgments"


class JudgmentCache:
    """Raw judge replies by request key."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_folder()

    @staticmethod
    def key(judge: str, messages: Messages) -> str:
        text = json.dumps([judge, messages], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The stored reply, or None when this request was never answered."""
        path = self._path(key)
        if not path.is_file():
            return None
        reply = read_json(path).get("reply")
        return reply if isinstance(reply, str) else None

    def put(self, key: str, judge: str, reply: str) -> None:
        write_json(self._path(key), {"judge": judge, "reply": reply, "created": utc_now()})
