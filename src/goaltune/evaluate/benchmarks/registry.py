"""The benchmark registry: names, option parsing and the context a benchmark runs in.

A benchmark is one module of this package that calls `register(Benchmark(...))` at import time;
every module of the package is imported on the first lookup, so adding a benchmark means adding a
module. A spec is `NAME` or `NAME:OPTIONS`, e.g. `mmlu:anatomy,virology`, `gsm8k:num_fewshot=5`,
`builtin:ifeval-mini:max_gen_toks=128` or `lm_eval:TASK`.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from goaltune.config import DEFAULT_EVAL_BATCH_SIZE
from goaltune.errors import BenchmarkError


@dataclass(frozen=True)
class RunContext:
    """The model under evaluation (adapter applied, if any) and the evaluation settings."""

    model: Any
    tokenizer: Any
    batch_size: int = DEFAULT_EVAL_BATCH_SIZE
    resamples: int = 1000
    show_progress: bool = True
    label: str = "eval"
    shared_context: bool = True  # log-likelihood: one packed pass per context (eval.shared_context)


@dataclass
class Loaded:
    """A benchmark's items, where they came from and the settings parsed from its options."""

    items: list[Any]
    source: str
    settings: dict[str, Any] = field(default_factory=dict)


Loader = Callable[[str | None, str | None, int | None], Loaded]
Runner = Callable[[RunContext, Loaded], dict[str, Any]]


@dataclass(frozen=True)
class Benchmark:
    """`load(options, data_dir, limit)` reads and validates the items; `run` scores a model."""

    name: str
    load: Loader
    run: Runner


BENCHMARKS: dict[str, Benchmark] = {}
_discovered = False


def register(benchmark: Benchmark) -> Benchmark:
    """Add a benchmark under its name (a later registration of the same name replaces it)."""
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark


def _discover() -> None:
    """Import every module of the benchmarks package once, so each registers itself."""
    global _discovered
    if _discovered:
        return
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        if not module.ispkg:
            importlib.import_module(f"{__package__}.{module.name}")
    _discovered = True


def require(module: str, purpose: str) -> None:
    """BenchmarkError naming the install command when an optional package is missing."""
    if importlib.util.find_spec(module) is None:
        raise BenchmarkError(
            f"{purpose} needs the Python package '{module}'; install it with: "
            "pip install 'goaltune[eval]'"
        )


def benchmark_names() -> list[str]:
    """Registered benchmark names, sorted."""
    _discover()
    return sorted(BENCHMARKS)


def resolve(spec: str) -> tuple[Benchmark, str | None]:
    """The benchmark a spec names and its option text (None without options)."""
    _discover()
    spec = spec.strip()
    if spec in BENCHMARKS:
        return BENCHMARKS[spec], None
    for name in sorted(BENCHMARKS, key=len, reverse=True):
        if spec.startswith(f"{name}:"):
            return BENCHMARKS[name], spec[len(name) + 1 :]
    raise BenchmarkError(f"unknown benchmark '{spec}'; known: {', '.join(benchmark_names())}")


def _takes_fragment(previous: str, fragment: str) -> bool:
    try:
        resolve(fragment)
        return False
    except BenchmarkError:
        return resolve(previous)[1] is not None


def join_specs(names: list[str]) -> list[str]:
    """Re-join option lists that a comma split cut apart.

    `["mmlu:anatomy", "virology", "arc_easy"]` becomes `["mmlu:anatomy,virology", "arc_easy"]`:
    a fragment that names no benchmark continues the options of the spec before it.
    """
    specs: list[str] = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        if specs and _takes_fragment(specs[-1], name):
            specs[-1] = f"{specs[-1]},{name}"
        else:
            specs.append(name)
    return specs


def option_list(options: str | None) -> list[str]:
    """Comma-separated option text as a list of non-empty, stripped entries."""
    return [part.strip() for part in (options or "").split(",") if part.strip()]


def _convert(name: str, key: str, value: str, kind: type) -> Any:
    if kind is bool:
        lowered = value.lower()
        if lowered in {"true", "1", "yes"}:
            return True
        if lowered in {"false", "0", "no"}:
            return False
    else:
        try:
            converted = kind(value)
            if kind is not int or converted >= 0:
                return converted
        except ValueError:
            pass
    raise BenchmarkError(f"{name}: option '{key}={value}' is not a valid {kind.__name__}")


def parse_options(name: str, options: str | None, defaults: dict[str, Any]) -> dict[str, Any]:
    """`key=value` options over `defaults` (types taken from the defaults)."""
    settings = dict(defaults)
    for part in option_list(options):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in defaults:
            known = ", ".join(f"{k}=" for k in defaults) or "none"
            raise BenchmarkError(f"{name}: unknown option '{part}' (options: {known})")
        settings[key] = _convert(name, key, value.strip(), type(defaults[key]))
    return settings
