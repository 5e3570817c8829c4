"""Evaluation throughput: goaltune's engine against lm-evaluation-harness's HF backend (HFLM).

Same model object type (the embedded SmolLM2-135M-Instruct, fp32), same items, same batch size,
same greedy generation settings. The harness runs its own task YAMLs with the dataset swapped
for the same local files (as tests/test_benchmarks_harness.py does). Timing starts after the
model and the items are loaded (both tools), and covers building requests, the model calls and
scoring. Log-likelihood tasks must give identical per-item accuracy in both tools (the script
exits with status 1 otherwise); goaltune is also run with `shared_context` off, the path whose
log-likelihoods are bit-identical to the harness's. Each tool runs in its own subprocess.

    .venv/bin/python benchmarks/eval_throughput.py --quick   # a few minutes
    .venv/bin/python benchmarks/eval_throughput.py           # full item sets
    .venv/bin/python benchmarks/eval_throughput.py --markdown benchmarks/results/FILE.json

Needs the `eval` extra (lm-eval); installs nothing.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REPO,
    RESULTS,
    add_shared_options,
    console,
    log,
    machine,
    run_worker,
    served_without_measuring,
    write_json,
)
from _figures import fmt, ratio
from tables import agreement_text, scores_text

SHARED = REPO.parent / "shared" / "benchmarks"
MMLU_SUBJECTS = [
    "global_facts",
    "high_school_mathematics",
    "high_school_computer_science",
    "college_medicine",
    "professional_law",
]


def task_plan(quick: bool, shared: Path) -> list[dict[str, Any]]:
    """The tasks compared: our spec, the harness task names, the item limit and settings."""
    tokens = 32 if quick else 128
    plan: list[dict[str, Any]] = [
        {
            "name": "ifeval-mini (generation)",
            "kind": "generation",
            "spec": f"builtin:ifeval-mini:max_gen_toks={tokens}",
            "harness": ["h_ifeval"],
            "limit": 8 if quick else None,
            "max_gen_toks": tokens,
        }
    ]
    if not shared.is_dir():
        return [
            *plan,
            {
                "name": "mc-mini (log-likelihood)",
                "kind": "loglikelihood",
                "spec": "builtin:mc-mini",
                "harness": ["h_mc_mini"],
                "limit": 20 if quick else None,
            },
        ]
    subjects = MMLU_SUBJECTS[:1] if quick else MMLU_SUBJECTS
    return [
        *plan,
        {
            "name": "ARC-Easy (log-likelihood)",
            "kind": "loglikelihood",
            "spec": "arc_easy",
            "harness": ["h_arc_easy"],
            "limit": 20 if quick else None,
        },
        {
            "name": "HellaSwag (log-likelihood)",
            "kind": "loglikelihood",
            "spec": "hellaswag",
            "harness": ["h_hellaswag"],
            "limit": 10 if quick else None,
        },
        {
            "name": f"MMLU {len(subjects)} subject(s) (log-likelihood)",
            "kind": "loglikelihood",
            "spec": f"mmlu:{','.join(subjects)}",
            "harness": [f"h_mmlu_{s}" for s in subjects],
            "limit": 20 if quick else None,
        },
    ]


# --- harness task configs over local files -------------------------------------------------


def _write_task(
    folder: Path, name: str, include: str, data_files: dict[str, str], **extra: Any
) -> None:
    import lm_eval
    import yaml

    config = {
        "include": str(Path(lm_eval.__file__).parent / "tasks" / include),
        "task": name,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": data_files},
        **extra,
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def _mmlu_jsonl(shared: Path, subject: str, folder: Path) -> str:
    """The subject's CSV as JSON lines in the cais/mmlu layout the harness task reads."""
    with (shared / "mmlu" / f"{subject}_test.csv").open(encoding="utf-8", newline="") as handle:
        rows = [
            {"question": r[0], "subject": subject, "choices": r[1:5], "answer": "ABCD".index(r[5])}
            for r in csv.reader(handle)
        ]
    path = folder / f"mmlu_{subject}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def write_harness_tasks(folder: Path, shared: Path) -> None:
    """Harness task YAMLs that include the harness's own and swap in the local data."""
    from goaltune.evaluate.benchmarks.data import BUILTIN_DATA

    folder.mkdir(parents=True, exist_ok=True)
    no_splits = {"training_split": None, "validation_split": None}
    _write_task(
        folder, "h_ifeval", "ifeval/ifeval.yaml", {"train": str(BUILTIN_DATA / "ifeval_mini.jsonl")}
    )
    _write_task(
        folder,
        "h_mc_mini",
        "arc/arc_easy.yaml",
        {"test": str(BUILTIN_DATA / "mc_mini.jsonl")},
        **no_splits,
    )
    if not shared.is_dir():
        return
    _write_task(
        folder,
        "h_arc_easy",
        "arc/arc_easy.yaml",
        {"test": str(shared / "arc" / "ARC-Easy-test.jsonl")},
        **no_splits,
    )
    _write_task(
        folder,
        "h_hellaswag",
        "hellaswag/hellaswag.yaml",
        {"validation": str(shared / "hellaswag" / "hellaswag_val.jsonl")},
        training_split=None,
    )
    for subject in MMLU_SUBJECTS:
        _write_task(
            folder,
            f"h_mmlu_{subject}",
            f"mmlu/default/mmlu_{subject}.yaml",
            {"test": _mmlu_jsonl(shared, subject, folder)},
            fewshot_split="test",
        )


# --- workers --------------------------------------------------------------------------------


def _load_model(job: dict[str, Any]) -> tuple[Any, Any]:
    import torch

    from goaltune.config import ModelConfig
    from goaltune.models import load_model_and_tokenizer

    if job.get("threads"):
        torch.set_num_threads(job["threads"])
    model, tokenizer = load_model_and_tokenizer(ModelConfig(name_or_path=job["model"]))
    with torch.no_grad():  # warm-up, untimed, the same for both tools
        model(**tokenizer(["Hello there, how are you?"], return_tensors="pt"))
    return model, tokenizer


def worker_goaltune(job: dict[str, Any]) -> dict[str, Any]:
    """Each task through goaltune's benchmark registry (load untimed, run timed)."""
    from goaltune.evaluate.benchmarks import RunContext, load_benchmark, resolve
    from goaltune.evaluate.generation import prompt_lookup

    model, tokenizer = _load_model(job)
    options = job.get("engine_options", {})
    tasks = {}
    for task in job["tasks"]:
        if task["kind"] not in job["kinds"]:
            continue
        benchmark, _ = resolve(task["spec"])
        loaded = load_benchmark(task["spec"], job["data_dir"], task["limit"])
        context = RunContext(
            model, tokenizer, job["batch_size"], show_progress=False, label=task["spec"], **options
        )
        started = time.perf_counter()
        with prompt_lookup(job.get("prompt_lookup", 0)):
            result = benchmark.run(context, loaded)
        seconds = time.perf_counter() - started
        tasks[task["name"]] = {
            "seconds": round(seconds, 3),
            "items": len(result["items"]),
            "metrics": {m: s["score"] for m, s in result["metrics"].items()},
            "per_item": [_item_view(item) for item in result["items"]],
        }
    return {"tool": "goaltune", "tasks": tasks, "engine_options": options}


def _item_view(item: dict[str, Any]) -> dict[str, Any]:
    """What the comparison needs from one of our item records."""
    view = {"metrics": item["metrics"]}
    if "loglikelihoods" in item:
        view["loglikelihoods"] = item["loglikelihoods"]
    else:
        view["output"] = item["output"]
    return view


def worker_harness(job: dict[str, Any]) -> dict[str, Any]:
    """Each task through lm-eval's simple_evaluate with HFLM on the same in-memory model."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from goaltune.evaluate.nltk_data import ensure_punkt_tab

    ensure_punkt_tab()  # IFEval's checkers split sentences with NLTK's punkt_tab (offline here)
    model, tokenizer = _load_model(job)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=job["batch_size"])
    manager = TaskManager(include_path=job["harness_tasks"], include_defaults=False)
    tasks = {}
    for task in job["tasks"]:
        if task["kind"] not in job["kinds"]:
            continue
        loaded = manager.load(task["harness"])["tasks"]  # reads the data: untimed
        generation = task["kind"] == "generation"
        extra = (
            {"apply_chat_template": True, "gen_kwargs": {"max_gen_toks": task["max_gen_toks"]}}
            if generation
            else {}
        )
        started = time.perf_counter()
        output = simple_evaluate(
            model=lm,
            tasks=[loaded[n] for n in task["harness"]],
            limit=task["limit"],
            log_samples=True,
            bootstrap_iters=0,
            task_manager=manager,
            **extra,
        )
        seconds = time.perf_counter() - started
        samples = [
            s
            for n in task["harness"]
            for s in sorted(output["samples"][n], key=lambda s: s["doc_id"])
        ]
        tasks[task["name"]] = {
            "seconds": round(seconds, 3),
            "items": len(samples),
            "metrics": _harness_metrics(samples, generation),
            "per_item": [_sample_view(s, generation) for s in samples],
        }
    return {"tool": "lm-eval", "tasks": tasks}


def _harness_metrics(samples: list[dict[str, Any]], generation: bool) -> dict[str, float]:
    names = (
        ["prompt_level_strict_acc", "prompt_level_loose_acc"] if generation else ["acc", "acc_norm"]
    )
    return {
        name: sum(float(s[name]) for s in samples) / len(samples)
        for name in names
        if samples and name in samples[0]
    }


def _sample_view(sample: dict[str, Any], generation: bool) -> dict[str, Any]:
    if generation:
        return {
            "output": sample["resps"][0][0],
            "metrics": {
                m: float(sample[m]) for m in ("prompt_level_strict_acc", "prompt_level_loose_acc")
            },
        }
    return {
        "loglikelihoods": [r[0][0] for r in sample["resps"]],
        "metrics": {m: float(sample[m]) for m in ("acc", "acc_norm") if m in sample},
    }


WORKERS = {"goaltune": worker_goaltune, "harness": worker_harness}


# --- comparison -----------------------------------------------------------------------------


def compare(ours: dict[str, Any], theirs: dict[str, Any], kind: str) -> dict[str, Any]:
    """Agreement of two tools on one task: per-item metrics, outputs, log-likelihood gaps."""
    pairs = list(zip(ours["per_item"], theirs["per_item"]))
    same_metrics = len(ours["per_item"]) == len(theirs["per_item"]) and all(
        all(a["metrics"].get(m) == b["metrics"][m] for m in b["metrics"]) for a, b in pairs
    )
    agreement: dict[str, Any] = {"identical_item_metrics": same_metrics}
    if kind == "generation":
        agreement["identical_outputs"] = sum(a["output"] == b["output"] for a, b in pairs)
    else:
        gaps = [
            abs(x - y) for a, b in pairs for x, y in zip(a["loglikelihoods"], b["loglikelihoods"])
        ]
        agreement["max_abs_loglikelihood_gap"] = max(gaps, default=0.0)
        agreement["bit_identical_loglikelihoods"] = all(g == 0 for g in gaps)
    return agreement


def summarize(plan: list[dict[str, Any]], results: dict[str, Any]) -> dict[str, Any]:
    """Per task: items/s per tool, score agreement and the goaltune / harness ratio."""
    summary: dict[str, Any] = {}
    harness = results["lm-eval"].get("tasks", {})
    for task in plan:
        name = task["name"]
        row: dict[str, Any] = {"kind": task["kind"]}
        for tool, entry in results.items():
            measured = entry.get("tasks", {}).get(name)
            if measured is None:
                continue
            row[tool] = {
                "items": measured["items"],
                "seconds": measured["seconds"],
                "items_per_s": round(measured["items"] / measured["seconds"], 3),
                "metrics": measured["metrics"],
                "peak_rss_mib": entry["peak_rss_mib"],
            }
            if tool != "lm-eval" and name in harness:
                row[tool]["agreement"] = compare(measured, harness[name], task["kind"])
                row[tool]["ratio_vs_lm_eval"] = ratio(
                    row[tool]["items_per_s"],
                    round(harness[name]["items"] / harness[name]["seconds"], 3),
                )
        summary[name] = row
    return summary


def totals(summary: dict[str, Any]) -> dict[str, Any]:
    """Per kind of task: all items over all seconds for each tool, and goaltune's ratio."""
    out: dict[str, Any] = {}
    for kind in ("generation", "loglikelihood"):
        rows = [row for row in summary.values() if row["kind"] == kind]
        per_tool = {}
        for tool in ("goaltune", "goaltune (shared_context off)", "lm-eval"):
            entries = [row[tool] for row in rows if tool in row]
            if entries:
                seconds = sum(e["seconds"] for e in entries)
                per_tool[tool] = round(sum(e["items"] for e in entries) / seconds, 3)
        if per_tool:
            out[kind] = {
                "items_per_s": per_tool,
                "ratio_vs_lm_eval": ratio(per_tool.get("goaltune"), per_tool.get("lm-eval")),
            }
    return out


def print_table(summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="Evaluation throughput (same items, model, batch size, greedy settings)")
    for column in (
        "task",
        "tool",
        "items",
        "seconds",
        "items/s",
        "peak RSS MiB",
        "scores",
        "agreement with lm-eval",
        "x lm-eval",
    ):
        numeric = column in {"items", "seconds", "items/s", "peak RSS MiB", "x lm-eval"}
        table.add_column(column, justify="right" if numeric else "left")
    for name, row in summary.items():
        for tool in ("goaltune", "goaltune (shared_context off)", "lm-eval"):
            if tool not in row:
                continue
            entry = row[tool]
            table.add_row(
                name,
                tool,
                str(entry["items"]),
                fmt(entry["seconds"], 1),
                fmt(entry["items_per_s"], 3),
                fmt(entry["peak_rss_mib"], 0),
                scores_text(entry["metrics"]),
                agreement_text(entry.get("agreement", {}), entry["items"]),
                fmt(entry.get("ratio_vs_lm_eval")),
            )
    console().print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few items per task, 32 new tokens")
    parser.add_argument("--batch-size", type=int, default=32, help="both tools (default 32)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=SHARED,
        help=f"benchmark files (default {SHARED}; builtin:mc-mini without it)",
    )
    parser.add_argument(
        "--prompt-lookup",
        type=int,
        default=0,
        help="goaltune's eval.prompt_lookup draft tokens for generation (default 0: off)",
    )
    add_shared_options(parser)
    args = parser.parse_args()
    if served_without_measuring(args, WORKERS):
        return 0
    if importlib.util.find_spec("lm_eval") is None:
        print(
            "lm-evaluation-harness is not installed; install it with:\n"
            f"  {sys.executable} -m pip install -e '.[eval]'",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # goaltune's default, given to every tool
    mode = "quick" if args.quick else "full"
    started = time.perf_counter()
    info = machine()
    plan = task_plan(args.quick, args.data_dir)
    script = Path(__file__).resolve()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="goaltune-eval-bench-") as tmp:
        folder = Path(tmp)
        write_harness_tasks(folder / "tasks", args.data_dir)
        job = {
            "model": "smollm2-135m-instruct",
            "batch_size": args.batch_size,
            "data_dir": str(args.data_dir),
            "harness_tasks": str(folder / "tasks"),
            "tasks": plan,
            "kinds": ["generation", "loglikelihood"],
            "prompt_lookup": args.prompt_lookup,
        }
        runs = [
            ("goaltune", "goaltune", {}),
            (
                "goaltune (shared_context off)",
                "goaltune",
                {"kinds": ["loglikelihood"], "engine_options": {"shared_context": False}},
            ),
            ("lm-eval", "harness", {}),
        ]
        for label, worker, extra in runs:
            slug = "".join(c if c.isalnum() else "-" for c in label)
            job_file = write_json(folder / f"{slug}.job.json", {**job, **extra})
            results[label] = run_worker(script, worker, job_file, folder / f"{slug}.result.json")
            if "error" in results[label]:
                log(results[label]["error"])
    failed = [label for label, entry in results.items() if "error" in entry]
    summary = summarize(plan, results) if not failed else {}
    overall = totals(summary) if summary else {}
    if summary:
        print_table(summary)
        for kind, entry in overall.items():
            console().print(
                f"{kind}: items/s {entry['items_per_s']}; goaltune / lm-eval "
                f"{entry['ratio_vs_lm_eval']}"
            )
    mismatched = [
        name
        for name, row in summary.items()
        if row["kind"] == "loglikelihood"
        and not all(
            row[t]["agreement"]["identical_item_metrics"]
            for t in row
            if t != "lm-eval" and isinstance(row[t], dict)
        )
    ]
    report = {
        "mode": mode,
        "command": " ".join(sys.argv),
        "machine": info,
        "settings": {
            "batch_size": args.batch_size,
            "data_dir": str(args.data_dir),
            "greedy": True,
            "prompt_lookup": args.prompt_lookup,
            "tasks": plan,
        },
        "summary": summary,
        "totals": overall,
        "goals": {
            f"{kind}_at_least_2x": (entry["ratio_vs_lm_eval"] or 0) >= 2
            for kind, entry in overall.items()
        },
        "failed": {k: results[k]["error"] for k in failed},
        "loglikelihood_accuracy_mismatch": mismatched,
        "total_wall_s": round(time.perf_counter() - started, 1),
        "load_average_at_end": list(os.getloadavg()),
    }
    out = args.out or RESULTS / f"eval_throughput_{mode}.json"
    print(f"wrote {write_json(out, report)}")
    if mismatched:
        print(
            f"log-likelihood accuracy differs from lm-eval on: {', '.join(mismatched)}",
            file=sys.stderr,
        )
    return 1 if failed or mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
