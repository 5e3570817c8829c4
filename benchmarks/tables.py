"""Markdown tables from the benchmark result files: the tables of docs/PERFORMANCE.md.

    .venv/bin/python benchmarks/tables.py benchmarks/results/train_throughput_quick.json
    .venv/bin/python benchmarks/tables.py --update docs/PERFORMANCE.md

The first prints the tables a results file holds (and the goals table when a training and an
evaluation file are given). The second re-renders, in place, every block of a document that
sits between `<!-- table: FILE [FILE] KIND -->` and `<!-- end table -->`, from the named files
(paths relative to the repository). Nothing is measured: the files are only read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _figures import REPO, fmt, ratio

BLOCK = re.compile(r"<!-- table: (?P<spec>[^>]*?) -->\n(?P<body>.*?)<!-- end table -->", re.DOTALL)
EVAL_TOOLS = ("goaltune", "goaltune (shared_context off)", "lm-eval")
SCORE_NAMES = {
    "acc": "acc",
    "acc_norm": "acc_norm",
    "prompt_level_strict_acc": "prompt strict",
    "prompt_level_loose_acc": "prompt loose",
}


# --- cells and tables ------------------------------------------------------------------------


def cell(value: Any) -> str:
    """A Markdown table cell: '|' escaped, newlines folded."""
    return " ".join(str(value).split()).replace("|", "\\|")


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def times(value: float | None) -> str:
    """A ratio as '1.44x' ('-' when missing)."""
    return "-" if value is None else f"{value:.2f}x"


def load_text(data: dict[str, Any]) -> str:
    """The one-minute load average at the start and at the end of a run."""
    start = data["machine"]["load_average_at_start"][0]
    end = data.get("load_average_at_end", [None])[0]
    return f"load average {start:.1f} at the start, " + (
        f"{end:.1f} at the end" if end is not None else "not recorded at the end"
    )


def failure(entry: dict[str, Any]) -> str:
    """Why a measurement is missing: the skip reason or the first line of the error."""
    if "skipped" in entry:
        return f"skipped: {entry['skipped']}"
    return (entry.get("error") or "no result").splitlines()[0]


def scores_text(metrics: dict[str, float]) -> str:
    """The headline scores of an evaluation row, e.g. 'acc 0.600, acc_norm 0.400'."""
    return ", ".join(
        f"{label} {metrics[name]:.3f}" for name, label in SCORE_NAMES.items() if name in metrics
    )


def agreement_text(agreement: dict[str, Any], items: int) -> str:
    """Per-item scores, then identical outputs or the largest log-likelihood gap."""
    if not agreement:
        return ""
    text = "same item scores" if agreement["identical_item_metrics"] else "ITEM SCORES DIFFER"
    if "identical_outputs" in agreement:
        return f"{text}; {agreement['identical_outputs']}/{items} same outputs"
    if agreement["bit_identical_loglikelihoods"]:
        return f"{text}; bit-identical log-lik."
    return f"{text}; max log-lik. gap {agreement['max_abs_loglikelihood_gap']:.1e}"


# --- the machine -----------------------------------------------------------------------------


def machine_table(data: dict[str, Any]) -> str:
    """The machine and software a training results file was measured on, with its matmul peaks."""
    info, peaks = data["machine"], data["matmul_peaks"]
    flags = ", ".join(
        f"{name} {'yes' if info[key] else 'no'}"
        for key, name in (
            ("avx2", "AVX2"),
            ("avx512_bf16", "AVX512-BF16"),
            ("amx_bf16", "AMX-BF16"),
        )
    )
    software = ", ".join(
        f"{name} {version or 'not installed'}" for name, version in info["versions"].items()
    )
    fp32, bf16 = peaks["fp32"]["gflops"], peaks["bf16"]["gflops"]
    threads = f"{info['torch_threads']} torch threads, OMP_WAIT_POLICY={info['omp_wait_policy']}"
    peak = (
        f"fp32 {fp32:.1f} GFLOP/s, bf16 {bf16:.1f} GFLOP/s (bf16 {fp32 / bf16:.0f}x slower); "
        "best square matmul, measured in the run"
    )
    rows = [
        ["CPU", f"{info['cpu']}, {info['cpu_count']} logical CPUs; {flags}"],
        ["GPU", info["cuda"] or "none"],
        ["software", software],
        ["threads", threads],
        ["matmul peak", peak],
    ]
    return markdown_table(["", ""], rows)


# --- training ----------------------------------------------------------------------------------


def sampler_text(name: str, entry: dict[str, Any]) -> str:
    """The sampler; the run fed goaltune's batches in order is named for what it is."""
    return "goaltune's batches" if name.endswith("goaltune-batches") else entry["sampler"]


def mfu_text(entry: dict[str, Any]) -> str:
    return f"{entry['mfu']:.1%}" if entry.get("mfu") is not None else "-"


def training_row(
    name: str, entry: dict[str, Any], ours: float | None, fastest: str | None
) -> list[Any]:
    if "wall_s" not in entry:
        return [name, failure(entry), *[""] * 11]
    speedup = times(ratio(ours, entry["input_tokens_per_s"]))
    return [
        name,
        entry["precision"],
        "on" if entry["gradient_checkpointing"] else "off",
        sampler_text(name, entry),
        fmt(entry["wall_s"], 1),
        fmt(entry["mean_step_s"]),
        fmt(entry["input_tokens_per_s"], 1),
        fmt(entry["supervised_tokens_per_s"], 1),
        fmt(entry["peak_rss_mib"], 0),
        fmt(entry["final_train_loss"], 4),
        fmt(entry["final_val_loss"], 4),
        mfu_text(entry),
        f"**{speedup}**" if name == fastest else speedup,
    ]


def training_table(data: dict[str, Any]) -> str:
    """goaltune against each TRL setting: caption, table and the overall ratios."""
    results, summary, settings = data["results"], data["summary"], data["settings"]
    tokens = summary["tokens"]
    caption = (
        f"{settings['steps']} optimizer steps over {settings['train_examples']} examples "
        f"({tokens['input_tokens']:,} input and {tokens['supervised_tokens']:,} supervised "
        f"tokens); {load_text(data)}."
    )
    header = [
        "tool",
        "precision",
        "grad. ckpt",
        "sampler",
        "wall s",
        "s/step",
        "input tok/s",
        "supervised tok/s",
        "peak RSS MiB",
        "final train loss",
        "final val loss",
        "MFU",
        "goaltune / this",
    ]
    ours = results["goaltune"].get("input_tokens_per_s")
    fastest = summary.get("fastest_trl")
    rows = [training_row(name, entry, ours, fastest) for name, entry in results.items()]
    return "\n\n".join([caption, markdown_table(header, rows), training_summary(data)])


def training_summary(data: dict[str, Any]) -> str:
    """One line: goaltune against the fastest TRL setting (speed, MFU, losses, memory)."""
    summary, ours = data["summary"], data["results"]["goaltune"]
    fastest = summary.get("fastest_trl")
    if not fastest or "wall_s" not in ours:
        return "No ratio: goaltune or every TRL setting is missing from this run."
    theirs = data["results"][fastest]
    losses = summary["loss_vs_trl"]
    peak = data["matmul_peaks"][ours["precision"]]["gflops"]
    return (
        f"goaltune {ours['input_tokens_per_s']:.1f} input tokens/s, the fastest TRL setting "
        f"(`{fastest}`) {theirs['input_tokens_per_s']:.1f}: "
        f"**{times(summary['ratio_tokens_per_s'])}** (goal: 3x). goaltune's MFU "
        f"{mfu_text(ours)} of the {peak:.1f} GFLOP/s {ours['precision']} peak measured in "
        f"this run (goal: over 50%). Final losses {losses['final_train_loss']:.2f}x (train) "
        f"and {losses['final_val_loss']:.2f}x (validation) that setting's; peak RSS "
        f"{times(summary['rss_vs_trl'])} of it."
    )


# --- training levers ---------------------------------------------------------------------------


def lever_row(name: str, entry: dict[str, Any], with_mfu: bool) -> list[Any]:
    if "wall_s" not in entry:
        return [name, failure(entry), *[""] * (8 if with_mfu else 7)]
    return [
        name,
        entry["steps"],
        fmt(entry["wall_s"], 1),
        fmt(entry["first_step_s"], 1),
        fmt(entry["median_step_s"]),
        fmt(entry["input_tokens_per_s"], 1),
        fmt(entry["final_train_loss"], 4),
        fmt(entry["training_peak_rss_mib"], 0),
        *([mfu_text(entry)] if with_mfu else []),
        times(entry["defaults_speedup_over_this"]),
    ]


def levers_table(data: dict[str, Any]) -> str:
    """goaltune with each default turned off in turn: caption, table and the load drift."""
    levers, tokens = data["levers"], data["tokens"]
    with_mfu = any("mfu" in entry for entry in levers.values())
    caption = (
        f"{data['steps']} optimizer steps with the defaults ({tokens['input_tokens']:,} "
        f"input and {tokens['supervised_tokens']:,} supervised tokens); "
        f"{load_text(data)}."
    )
    if with_mfu:
        precision = levers.get("defaults", {}).get("precision", "fp32")
        caption += (
            f" MFU against the {data['matmul_peaks'][precision]['gflops']:.1f} GFLOP/s "
            f"{precision} peak measured in this run."
        )
    header = [
        "lever",
        "steps",
        "wall s",
        "first step s",
        "median s/step",
        "input tok/s",
        "final train loss",
        "training peak RSS MiB",
        *(["MFU"] if with_mfu else []),
        "defaults' speed-up over this",
    ]
    rows = [lever_row(name, entry, with_mfu) for name, entry in levers.items()]
    return "\n\n".join([caption, markdown_table(header, rows), levers_summary(levers)])


def levers_summary(levers: dict[str, Any]) -> str:
    """How far the defaults drifted between the first and the last run, and how to read ratios."""
    reading = (
        "A speed-up above 1.00x means the defaults are faster than the lever; below 1.00x, "
        "the lever was faster."
    )
    first = levers.get("defaults", {}).get("input_tokens_per_s")
    last = levers.get("defaults (again)", {}).get("input_tokens_per_s")
    if not first or not last:
        return reading
    drift = max(first, last) / min(first, last) - 1
    return (
        f"The defaults ran first ({first:.1f} input tokens/s) and again last ({last:.1f}): "
        f"the machine's load moved the same setting by {drift:.0%} during the run. Speed-ups "
        f"are relative to the faster of the two, and differences within that drift are "
        f"noise. {reading}"
    )


# --- evaluation --------------------------------------------------------------------------------


def task_label(task: dict[str, Any]) -> str:
    return f"{task['name']}, `{task['spec']}`"


def eval_rows(data: dict[str, Any]) -> list[list[Any]]:
    """One row per tool and task; the task named on its first row only."""
    rows = []
    for task in data["settings"]["tasks"]:
        row = data["summary"].get(task["name"], {})
        label = task_label(task)
        for tool in EVAL_TOOLS:
            if tool not in row:
                continue
            entry = row[tool]
            rows.append(
                [
                    label,
                    tool,
                    entry["items"],
                    fmt(entry["seconds"], 1),
                    fmt(entry["items_per_s"], 3),
                    fmt(entry["peak_rss_mib"], 0),
                    scores_text(entry["metrics"]),
                    agreement_text(entry.get("agreement", {}), entry["items"]),
                    times(entry.get("ratio_vs_lm_eval")) if tool != "lm-eval" else "",
                ]
            )
            label = ""
    return rows


def eval_table(data: dict[str, Any]) -> str:
    """goaltune against lm-eval per task: caption, table and the overall ratios."""
    caption = (
        f"Batch size {data['settings']['batch_size']} in both tools, greedy; {load_text(data)}."
    )
    header = [
        "task",
        "tool",
        "items",
        "seconds",
        "items/s",
        "peak RSS MiB",
        "scores",
        "agreement with lm-eval",
        "x lm-eval",
    ]
    return "\n\n".join([caption, markdown_table(header, eval_rows(data)), eval_summary(data)])


def eval_summary(data: dict[str, Any]) -> str:
    """One line: items/s of each tool over all tasks of a kind, the ratios, memory, failures."""
    parts = []
    for kind, label in (
        ("loglikelihood", "All log-likelihood tasks together"),
        ("generation", "generation"),
    ):
        entry = data["totals"].get(kind)
        if not entry:
            continue
        rates = entry["items_per_s"]
        text = (
            f"{label}: goaltune {rates['goaltune']:.3f} items/s, lm-eval "
            f"{rates['lm-eval']:.3f} (**{times(entry['ratio_vs_lm_eval'])}**"
        )
        off = rates.get("goaltune (shared_context off)")
        if off:
            text += f"; shared_context off {off:.3f}, {times(ratio(off, rates['lm-eval']))}"
        parts.append(text + ")")
    peaks = {
        tool: max(row[tool]["peak_rss_mib"] for row in data["summary"].values() if tool in row)
        for tool in ("goaltune", "lm-eval")
        if any(tool in row for row in data["summary"].values())
    }
    line = (
        "; ".join(parts)
        + ". Peak RSS "
        + ", ".join(f"{tool} {mib:.0f} MiB" for tool, mib in peaks.items())
        + "."
    )
    if data.get("failed"):
        line += f" Failed: {', '.join(data['failed'])}."
    if data.get("loglikelihood_accuracy_mismatch"):
        line += (
            " Per-item accuracy differs from lm-eval on: "
            f"{', '.join(data['loglikelihood_accuracy_mismatch'])}."
        )
    return line


# --- the goals ---------------------------------------------------------------------------------


def loglikelihood_goal(evaluation: dict[str, Any]) -> list[str]:
    """The log-likelihood row: overall and per-task ratios, accuracy agreement, met or not."""
    ratios = {
        task["name"].removesuffix(" (log-likelihood)"): evaluation["summary"][task["name"]][
            "goaltune"
        ].get("ratio_vs_lm_eval")
        for task in evaluation["settings"]["tasks"]
        if task["kind"] == "loglikelihood"
        and "goaltune" in evaluation["summary"].get(task["name"], {})
    }
    overall = evaluation["totals"]["loglikelihood"]["ratio_vs_lm_eval"] or 0
    same = not evaluation.get("loglikelihood_accuracy_mismatch")
    every = all((r or 0) >= 2 for r in ratios.values())
    some = overall >= 2 or any((r or 0) >= 2 for r in ratios.values())
    met = "yes" if same and every and overall >= 2 else ("partly" if same and some else "no")
    per_task = ", ".join(f"{name} {times(r)}" for name, r in ratios.items())
    agreement = "identical per-item accuracy" if same else "per-item accuracy differs"
    return [
        "log-likelihood eval >= 2x lm-eval on every task, identical accuracy",
        f"{times(overall)} overall ({per_task}); {agreement}",
        met,
    ]


def goals_table(train: dict[str, Any], evaluation: dict[str, Any]) -> str:
    """Each goal against what the two result files measured."""
    summary, results = train["summary"], train["results"]
    ours, fastest = results["goaltune"], summary.get("fastest_trl")
    goals = summary.get("goals", {})
    yes = {True: "yes", False: "no"}
    losses = summary.get("loss_vs_trl", {})
    generation = evaluation["totals"].get("generation", {}).get("ratio_vs_lm_eval")
    loss_text = (
        f"train {times(losses.get('final_train_loss'))}, validation "
        f"{times(losses.get('final_val_loss'))} the fastest setting's"
    )
    rss_text = (
        f"{fmt(ours.get('peak_rss_mib'), 0)} vs "
        f"{fmt(results.get(fastest, {}).get('peak_rss_mib'), 0)} MiB"
    )
    rows = [
        [
            "training tokens/s >= 3x TRL's fastest setting",
            f"{times(summary.get('ratio_tokens_per_s'))} (`{fastest}`)",
            yes[goals.get("tokens_per_s_at_least_3x", False)],
        ],
        [
            "training losses within 2% of TRL's",
            loss_text,
            yes[goals.get("losses_within_2pct", False)],
        ],
        ["peak RSS not above TRL's", rss_text, yes[goals.get("peak_rss_not_higher", False)]],
        ["MFU > 50%", mfu_text(ours), yes[goals.get("mfu_above_50pct", False)]],
        loglikelihood_goal(evaluation),
        ["generation eval >= 2x lm-eval", times(generation), yes[(generation or 0) >= 2]],
    ]
    return markdown_table(["goal", "measured", "met?"], rows)


# --- files and documents -------------------------------------------------------------------


def decode_table(data: dict[str, Any]) -> str:
    """Median greedy decode step by batch rows (benchmarks/decode_step_cost.py)."""
    single = data["batches"][0]["median_step_ms"]
    rows = [
        [
            b["rows"],
            f"{b['median_step_ms']:.1f}",
            f"{b['ms_per_row']:.2f}",
            f"{b['median_step_ms'] / single:.2f}x",
        ]
        for b in data["batches"]
    ]
    caption = (
        f"{data['model']}, fp32, prompts of {data['prompt_tokens']} tokens, median of "
        f"{data['steps']} decode steps; {load_text(data)}."
    )
    return (
        caption
        + "\n\n"
        + markdown_table(
            [
                "rows",
                "median step ms",
                "ms per row",
                f"step cost vs {data['batches'][0]['rows']} row",
            ],
            rows,
        )
    )


def sequential_table(data: dict[str, Any]) -> str:
    """Items eval.sequential scores before deciding a guard (benchmarks/sequential_items.py)."""
    rows = []
    for guard, entry in data["guards"].items():
        observed = (
            f"{guard}: {entry['observed_change_points']:+.2f} points over "
            f"{entry['observed_items']} items, {entry['observed_changed_share']:.0%} changed"
        )
        for label, size in entry["sizes"].items():
            rows.append(
                [
                    observed,
                    label,
                    f"{size['median_items_scored']:,.0f}",
                    f"{size['p90_items_scored']:,.0f}",
                    f"{size['median_share_scored']:.1%}",
                    f"{size['share_stopped_early']:.1%}",
                    f"{size['share_same_band_as_all_items']:.1%}",
                ]
            )
            observed = ""
    caption = (
        f"Run {data['run']}'s paired changes, drawn with replacement; {data['runs']} simulated "
        f"evaluations per size, a look every {data['batch']} items, 95% confidence sequence, "
        f"bands at {data['thresholds']['tradeoff_drop_points']:g}/"
        f"{data['thresholds']['caution_drop_points']:g}/"
        f"{data['thresholds']['investigate_drop_points']:g} points."
    )
    header = [
        "guard (observed change)",
        "benchmark size",
        "median items scored",
        "90th percentile",
        "median share scored",
        "stopped early",
        "same band as all items",
    ]
    return caption + "\n\n" + markdown_table(header, rows)


def attention_table(data: dict[str, Any]) -> str:
    """Training steps with each attention implementation, interleaved (attention_ab.py)."""
    rows = [
        [mode, entry["steps"], f"{entry['total_s']:.1f}", f"{entry['median_step_s']:.3f}"]
        for mode, entry in data["modes"].items()
    ]
    caption = (
        f"{data['precision']}, batches of 4 examples ({data['tokens_per_step']:,.0f} input tokens "
        f"per step on average), each batch trained with both, alternating which goes first; "
        f"{load_text(data)}. Eager: **{data['eager_speedup']:.2f}x** SDPA's speed."
    )
    header = ["attention", "steps", "total s", "median s/step"]
    return caption + "\n\n" + markdown_table(header, rows)


def load(path: str | Path) -> dict[str, Any]:
    """A results file (relative paths are taken from the repository root)."""
    path = Path(path)
    return json.loads((path if path.is_absolute() else REPO / path).read_text())


RENDERERS: dict[str, Callable[..., str]] = {
    "machine": machine_table,
    "training": training_table,
    "levers": levers_table,
    "eval": eval_table,
    "goals": goals_table,
    "decode": decode_table,
    "sequential": sequential_table,
    "attention": attention_table,
}


def render(spec: str) -> str:
    """The block a marker asks for: 'FILE [FILE] KIND' (files relative to the repository)."""
    *files, kind = spec.split()
    if kind not in RENDERERS:
        raise ValueError(f"unknown table kind {kind!r} in '{spec}'; known: {list(RENDERERS)}")
    return RENDERERS[kind](*(load(f) for f in files))


def kinds(data: dict[str, Any]) -> list[str]:
    """The tables a results file holds."""
    if "levers" in data:
        return ["levers"]
    if "results" in data:
        return ["machine", "training"]
    if "batches" in data:
        return ["decode"]
    if "guards" in data:
        return ["sequential"]
    if "modes" in data:
        return ["attention"]
    return ["eval"]


def blocks(text: str) -> list[tuple[str, str]]:
    """(spec, body) of every marked block of a document."""
    return [(m["spec"], m["body"]) for m in BLOCK.finditer(text)]


def update(doc: Path) -> int:
    """Re-render every marked block of `doc` in place; returns the number of blocks."""
    text = doc.read_text()
    fresh = BLOCK.sub(
        lambda m: f"<!-- table: {m['spec']} -->\n{render(m['spec'])}\n<!-- end table -->", text
    )
    doc.write_text(fresh)
    return len(blocks(text))


def markdown(paths: list[str]) -> str:
    """Every table of the given files, and the goals when a training and an eval file are given."""
    loaded = {path: load(path) for path in paths}
    parts = [RENDERERS[kind](data) for data in loaded.values() for kind in kinds(data)]
    train = [d for d in loaded.values() if "results" in d]
    evaluation = [d for d in loaded.values() if "totals" in d]
    if train and evaluation:
        parts.append(goals_table(train[0], evaluation[0]))
    return "\n\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="results JSON files to print as Markdown")
    parser.add_argument(
        "--update",
        type=Path,
        metavar="DOC",
        help="re-render the marked tables of this Markdown file in place",
    )
    args = parser.parse_args()
    if not args.files and not args.update:
        parser.error("give results files, or --update DOC")
    if args.files:
        print(markdown(args.files))
    if args.update:
        print(f"re-rendered {update(args.update)} table(s) in {args.update}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
