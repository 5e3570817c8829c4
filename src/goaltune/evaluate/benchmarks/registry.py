"""The benchmark registry: names, option parsing and the context a benchmark runs in.

A benchmark is one module of this package that calls `register(Benchmark(...))` at import time;
every module of the package is imported on the first lookup, so adding a benchmark means adding a
module. A spec is `NAME` or `NAME:OPTIONS`, e.g. `mmlu:anatomy,virology`, `gsm8k:num_fewshot=5`,
`builtin:ifeval-mini:max_gen_toks=128` or `lm_eval:TASK`; a file benchmark's is
`KIND:PATH[:OPTIONS]` (`FILE_KINDS`). In a config a spec may also be a mapping,
`{name: gsm8k, num_fewshot: 5}` (`spec_from_mapping`). This module imports nothing heavy, so the
config can check specs through it without loading the benchmarks.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goaltune.errors import BenchmarkError

FILE_KINDS = ("mc", "qa", "code")  # the benchmarks of a user's file: KIND:PATH[:OPTIONS]


@dataclass(frozen=True)
class RunContext:
    """The model under evaluation (adapter applied, if any) and the evaluation settings."""

    model: Any
    tokenizer: Any
    batch_size: int  # no default here: run_benchmarks passes eval's (config imports this module)
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
# records, bootstrap resamples, the loaded settings -> the result's `metrics`
Summarizer = Callable[[list[dict[str, Any]], int, dict[str, Any]], dict[str, dict]]


@dataclass(frozen=True)
class Benchmark:
    """`load(options, data_dir, limit)` reads and validates the items; `run` scores a model.

    `summarize` turns scored records into the result's metrics, for benchmarks whose metrics are
    not per-record means (a sequential evaluation scores chunks and summarizes them once).
    """

    name: str
    load: Loader
    run: Runner
    summarize: Summarizer | None = None


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
    """BenchmarkError naming the install command when a package a benchmark needs is missing."""
    from goaltune.extras import require as require_packages

    require_packages(purpose, [module], error=BenchmarkError)


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


@dataclass(frozen=True)
class FileSpec:
    """A file benchmark's spec taken apart: `qa:data/qa.jsonl:max_gen_toks=48`."""

    kind: str
    path: str  # as written; the path ends at the first ":" after the kind
    options: str | None  # the text after the path's ":", None without it

    @property
    def file(self) -> Path:
        """The path as a file location (stripped, `~` expanded)."""
        return Path(self.path.strip()).expanduser()

    def text(self) -> str:
        """The spec again, e.g. after the path was anchored."""
        return f"{self.kind}:{self.path}" + ("" if self.options is None else f":{self.options}")


def file_spec(spec: str) -> FileSpec | None:
    """The parts of a `mc:`/`qa:`/`code:` spec; None for any other benchmark."""
    kind, sep, rest = spec.strip().partition(":")
    if not sep or kind not in FILE_KINDS:
        return None
    path, sep, options = rest.partition(":")
    return FileSpec(kind, path, options if sep else None)


def split_path(kind: str, options: str | None) -> tuple[Path, str | None]:
    """(file path, the option text after it or None) of a file benchmark's option text."""
    parts = file_spec(f"{kind}:{options or ''}")
    if parts is None or not parts.path.strip():
        raise BenchmarkError(f"{kind}: needs a file path, e.g. {kind}:data/test.jsonl")
    return parts.file, parts.options


def _option_text(name: str, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int, float)):
        return str(value)
    raise BenchmarkError(f"{name}: option '{key}' must be a string, number or true/false")


def spec_from_mapping(entry: Mapping[str, Any]) -> str:
    """The string spec a config mapping stands for.

    `{name: gsm8k, num_fewshot: 5}` is `gsm8k:num_fewshot=5`; `{name: mc, path: data/test.jsonl,
    style: cloze}` (or `name: mc:data/test.jsonl`) is `mc:data/test.jsonl:style=cloze`. `name` is
    the benchmark's name or a whole spec; every other key is one `key=value` option.
    """
    options = dict(entry)
    name = options.pop("name", None)
    if not isinstance(name, str) or not name.strip():
        raise BenchmarkError(
            "a benchmark given as a mapping needs a 'name', e.g. {name: gsm8k, num_fewshot: 5}"
        )
    spec = name.strip()
    if "path" in options:
        if spec not in FILE_KINDS:
            raise BenchmarkError(
                f"{spec}: 'path' is an option of the file benchmarks ({', '.join(FILE_KINDS)}) only"
            )
        spec = f"{spec}:{_option_text(spec, 'path', options.pop('path'))}"
    # qa's extract= runs to the end of the spec, so it goes last
    keys = sorted(options, key=lambda key: key == "extract")
    text = ",".join(f"{key}={_option_text(spec, key, options[key])}" for key in keys)
    if not text:
        return spec
    kind = spec.partition(":")[0]
    parts = file_spec(spec)
    if kind in FILE_KINDS and (parts is None or not parts.path.strip()):
        raise BenchmarkError(f"{kind}: needs a file path, e.g. {{name: {kind}, path: ...}}")
    if parts is None:
        has_options = "=" in spec  # `gsm8k:num_fewshot=5`; a bare name (`builtin:mc-mini`) has none
    else:
        has_options = parts.options is not None
    return f"{spec}{',' if has_options else ':'}{text}"
