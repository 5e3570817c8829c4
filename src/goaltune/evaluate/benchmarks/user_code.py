"""`code:PATH`: HumanEval-format items, pass@1 of the greedy completion run against the tests.

Running model-written code needs the opt-in of the person running goaltune
(`--allow-code-execution` or GOALTUNE_ALLOW_CODE_EXECUTION=1, see goaltune.evaluate.sandbox);
without it the benchmark refuses to load. Every program runs in the sandbox.

Records (JSONL, JSON list or CSV with a header, see user_files): `task_id`, `prompt` (the code
the model continues, usually a signature and docstring), `test` (code defining `check(candidate)`),
`entry_point` (the function's name) and optional `canonical_solution`.
The program run is `prompt + completion + "\n\n" + test + "\n\n" + "check(entry_point)\n"`, as in
HumanEval; the completion is greedy from the raw prompt (no chat template), cut at the first
"\nclass", "\ndef", "\n#", "\nif" or "\nprint" (HumanEval's and the harness's stop sequences).
Options: max_gen_toks (default 512), timeout (seconds per program, default 10), memory_mb
(default 1024), reference (default false: true runs each item's canonical_solution instead of
the model's completion, to check a data file and the sandbox).
Metric `pass@1`: 1 when the program exits with status 0 after its last line ran.
"""

from __future__ import annotations

from typing import Any

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks.data import Row
from goaltune.evaluate.benchmarks.registry import (
    Benchmark,
    Loaded,
    RunContext,
    parse_options,
    register,
    split_path,
)
from goaltune.evaluate.benchmarks.results import benchmark_result, summarize
from goaltune.evaluate.benchmarks.user_files import read_records, text_field
from goaltune.evaluate.generation import generate_texts
from goaltune.evaluate.sandbox import OPT_IN, Execution, Limits, code_execution_allowed, run_python
from goaltune.progress import ProgressBar

NAME = "code"
METRIC = "pass@1"
STOP = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]
DEFAULTS: dict[str, Any] = {
    "max_gen_toks": 512,
    "timeout": 10.0,
    "memory_mb": 1024,
    "reference": False,
}
ERROR_LINES = 5


def code_item(row: Row) -> dict[str, Any]:
    """One HumanEval-format item."""
    item = {key: text_field(row, key) for key in ("task_id", "prompt", "test", "entry_point")}
    if not str(item["entry_point"]).isidentifier():
        row.fail(f"field 'entry_point': '{item['entry_point']}' is not a Python name")
    item["canonical_solution"] = text_field(row, "canonical_solution", required=False)
    return item


def program(item: dict[str, Any], completion: str) -> str:
    """The program HumanEval runs: prompt, completion, tests, then the check call."""
    return f"{item['prompt']}{completion}\n\n{item['test']}\n\ncheck({item['entry_point']})\n"


def _settings(options: str | None) -> dict[str, Any]:
    settings = parse_options(NAME, options, DEFAULTS)
    if settings["max_gen_toks"] < 1 or settings["memory_mb"] < 64:
        raise BenchmarkError(f"{NAME}: max_gen_toks must be at least 1 and memory_mb at least 64")
    if not 0 < settings["timeout"] <= 600:
        raise BenchmarkError(f"{NAME}: timeout must be more than 0 and at most 600 seconds")
    return settings


def load(options: str | None, data_dir: str | None, limit: int | None) -> Loaded:
    """The file's items (the first `limit`), once the user has opted in to running code."""
    path, rest = split_path(NAME, options)
    if not code_execution_allowed():
        raise BenchmarkError(
            f"{NAME}:{path} runs model-written code, which is off by default; "
            f"to allow it, {OPT_IN} (each program then runs in goaltune's "
            "sandbox, see docs/BENCHMARK.md)"
        )
    settings = _settings(rest)
    rows = read_records(path)
    items = [code_item(row) for row in rows]
    seen: dict[str, str] = {}
    for item, row in zip(items, rows):
        if item["task_id"] in seen:
            row.fail(
                f"field 'task_id': '{item['task_id']}' repeats the id of {seen[item['task_id']]}"
            )
        seen[item["task_id"]] = row.where
        if settings["reference"] and item["canonical_solution"] is None:
            row.fail("field 'canonical_solution' is missing (option reference=true runs it)")
    return Loaded(items[:limit], str(path), settings)


def _record(item: dict[str, Any], completion: str, result: Execution) -> dict[str, Any]:
    errors = result.stderr.strip().splitlines()[-ERROR_LINES:]
    return {
        "id": item["task_id"],
        "prompt": item["prompt"],
        "output": completion,
        "target": item["canonical_solution"] or "",
        "status": result.status,
        "reason": result.reason,
        "error": "\n".join(errors),
        "elapsed_s": result.elapsed_s,
        "metrics": {METRIC: float(result.passed)},
    }


def execute(
    items: list[dict[str, Any]], completions: list[str], limits: Limits, context: RunContext
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Run every program in the sandbox, one after another; records and the isolation used."""
    records: list[dict[str, Any]] = []
    isolation: dict[str, str] = {}
    label = f"{context.label} (running)"
    with ProgressBar(label, len(items), show=context.show_progress) as progress:
        for item, completion in zip(items, completions):
            result = run_python(program(item, completion), limits)
            if result.status == "error":
                raise BenchmarkError(f"{NAME}: {result.reason}")
            isolation = isolation or result.isolation
            records.append(_record(item, completion, result))
            progress.advance()
    return records, isolation


def run(context: RunContext, loaded: Loaded) -> dict[str, Any]:
    """Complete each prompt greedily (or take the reference solutions) and run the tests."""
    settings, items = loaded.settings, loaded.items
    if settings["reference"]:
        completions = [item["canonical_solution"] for item in items]
    else:
        completions = generate_texts(
            context.model,
            context.tokenizer,
            [item["prompt"] for item in items],
            settings["max_gen_toks"],
            context.batch_size,
            STOP,
            context.label,
            context.show_progress,
        )
    limits = Limits(timeout_s=settings["timeout"], memory_mb=settings["memory_mb"])
    records, isolation = execute(items, completions, limits, context)
    summary = summarize(records, [METRIC], context.resamples)
    return benchmark_result(
        METRIC, summary, records, loaded.source, {**settings, "sandbox": isolation}
    )


register(Benchmark(NAME, load, run))
