"""docs/PERFORMANCE.md shows the committed benchmark results, and its text quotes them correctly.

Each table sits between `<!-- table: FILE [FILE] KIND -->` and `<!-- end table -->`; the test
re-renders it with benchmarks/tables.py and compares (re-render after a new run with
`.venv/bin/python benchmarks/tables.py --update docs/PERFORMANCE.md`). The figures the text
quotes outside the tables are recomputed from the same files. Only JSON files are read: no model
runs, and neither TRL nor lm-eval is needed.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "PERFORMANCE.md"
RESULTS = ROOT / "benchmarks" / "results"
TRAIN = "benchmarks/results/train_throughput_quick.json"
LEVERS = "benchmarks/results/train_levers_quick.json"
EVAL = "benchmarks/results/eval_throughput_quick.json"
RERENDER = "re-render with: .venv/bin/python benchmarks/tables.py --update docs/PERFORMANCE.md"
STATIC_TABLES = {"| key | default | effect when on |"}  # config defaults, not measurements


def _tables_module() -> ModuleType:
    """benchmarks/tables.py under a name that cannot clash with an installed `tables` package."""
    spec = importlib.util.spec_from_file_location(
        "goaltune_bench_tables", ROOT / "benchmarks" / "tables.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tables = _tables_module()
DOC_TEXT = DOC.read_text()
BLOCKS = tables.blocks(DOC_TEXT)


@cache
def load(path: str) -> dict[str, Any]:
    return json.loads((ROOT / path).read_text())


def prose() -> str:
    """The document without its rendered blocks, whitespace folded."""
    return " ".join(tables.BLOCK.sub(" ", DOC_TEXT).split())


def test_the_doc_marks_every_kind_of_table_and_every_results_file() -> None:
    kinds = {spec.split()[-1] for spec, _ in BLOCKS}
    assert kinds == set(tables.RENDERERS)
    named = {word for spec, _ in BLOCKS for word in spec.split()[:-1]}
    committed = {str(p.relative_to(ROOT)) for p in RESULTS.glob("*.json")}
    assert committed <= named, f"results files no table of {DOC.name} shows: {committed - named}"


def test_markers_are_balanced_and_no_placeholder_is_left() -> None:
    openings = re.findall(r"^<!-- table:", DOC_TEXT, re.MULTILINE)
    ends = re.findall(r"^<!-- end table -->$", DOC_TEXT, re.MULTILINE)
    assert len(openings) == len(ends) == len(BLOCKS), "a table marker without its pair"
    leftovers = re.findall(r"\b[A-Z][A-Z_]*_TABLE\b|\bTODO\b|\bTBD\b", DOC_TEXT)
    assert not leftovers, f"placeholders left in docs/PERFORMANCE.md: {leftovers}"


@pytest.mark.parametrize(("spec", "body"), BLOCKS, ids=[spec.split()[-1] for spec, _ in BLOCKS])
def test_marked_table_equals_its_rendering(spec: str, body: str) -> None:
    assert body == tables.render(spec) + "\n", f"'{spec}' is stale or edited by hand; {RERENDER}"


def test_every_measured_table_is_rendered() -> None:
    lines = tables.BLOCK.sub("", DOC_TEXT).splitlines()
    headers = {
        line.strip()
        for line, below in itertools.pairwise(lines)
        if line.startswith("|") and re.match(r"\|\s*-{3}", below)
    }
    assert headers == STATIC_TABLES, f"tables outside the markers: {headers - STATIC_TABLES}"


@pytest.mark.parametrize("spec", [spec for spec, _ in BLOCKS])
def test_rendered_rows_have_as_many_cells_as_the_header(spec: str) -> None:
    rows = [line for line in tables.render(spec).splitlines() if line.startswith("|")]
    widths = {len(re.split(r"(?<!\\)\|", row)) for row in rows}
    assert len(rows) > 2 and len(widths) == 1, f"'{spec}': rows of different widths {widths}"


def test_cells_escape_pipes_and_fold_newlines() -> None:
    assert tables.cell("a | b\nc") == "a \\| b c"


def test_update_rewrites_a_stale_block(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    marker = f"<!-- table: {LEVERS} levers -->"
    doc.write_text(f"intro\n{marker}\n| old | table |\n<!-- end table -->\nend\n")
    assert tables.update(doc) == 1
    fresh = tables.render(f"{LEVERS} levers")
    assert doc.read_text() == f"intro\n{marker}\n{fresh}\n<!-- end table -->\nend\n"


@pytest.mark.integration
@pytest.mark.parametrize(
    "command",
    [
        ["benchmarks/train_throughput.py", "--markdown", LEVERS],
        ["benchmarks/eval_throughput.py", "--markdown", EVAL],
        ["benchmarks/tables.py", LEVERS],
    ],
)
def test_scripts_print_the_tables_of_a_results_file(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == tables.markdown([command[-1]]) + "\n"


def test_a_training_and_an_eval_file_also_give_the_goals() -> None:
    assert tables.markdown([TRAIN, EVAL]).endswith(tables.render(f"{TRAIN} {EVAL} goals"))


# --- figures the text quotes ---------------------------------------------------------------


def x(value: float) -> str:
    return f"{value:.2f}x"


def claim(holds: bool, text: str) -> None:
    """A statement of the text that must still hold for the results files."""
    assert holds, f"{DOC.name} says '{text}', which the results files no longer show"


def training_figures() -> list[str]:
    data = load(TRAIN)
    results, summary, peaks = data["results"], data["summary"], data["matmul_peaks"]
    same_name = "trl-fp32-nogc-goaltune-batches"
    ours, same = results["goaltune"], results[same_name]
    trl = {n: r for n, r in results.items() if n.startswith("trl") and "wall_s" in r}
    others = [r for n, r in trl.items() if n != same_name]
    nogc = [
        r["peak_rss_mib"]
        for r in trl.values()
        if r["precision"] == "fp32" and not r["gradient_checkpointing"]
    ]
    per_token = summary["model_flops"] / summary["tokens"]["input_tokens"]
    fp32, bf16 = peaks["fp32"]["gflops"], peaks["bf16"]["gflops"]
    claim(
        f"{same['final_val_loss']:.4f}" == f"{ours['final_val_loss']:.4f}",
        "fed the same batches, TRL ends with goaltune's losses",
    )
    claim(ours["peak_rss_mib"] < min(nogc), "below every fp32 TRL setting without checkpointing")
    ratio = x(summary["ratio_tokens_per_s"])
    return [
        f"goaltune trained {ratio} faster than TRL's fastest",
        (
            f"{ratio} the fastest TRL setting (load average "
            f"{data['machine']['load_average_at_start'][0]:.1f} at the start and "
            f"{data['load_average_at_end'][0]:.1f} at the end"
        ),
        (
            f"TRL ends with goaltune's losses ({ours['final_train_loss']:.4f} / "
            f"{ours['final_val_loss']:.4f})"
        ),
        "("
        + " and ".join(f"{r['final_val_loss']:.4f}" for r in others)
        + f" against {ours['final_val_loss']:.4f})",
        (
            f"({ours['peak_rss_mib']:.0f} MiB, including the final loss evaluation; "
            f"{ours['training_peak_rss_mib']:.0f} MiB during training)"
        ),
        f"({min(nogc):.0f}-{max(nogc):.0f} MiB)",
        f"goaltune reached {ours['mfu']:.1%} in the run above",
        f"{per_token / 1e6:.0f} MFLOP per input token",
        f"50% of the {fp32:.1f} GFLOP/s fp32 peak is {0.5 * fp32 * 1e9 / per_token:.1f} tokens/s",
        f"the comparison run reached {ours['input_tokens_per_s']:.1f}",
        f"at {bf16:.1f} GFLOP/s against {fp32:.1f} GFLOP/s in fp32 ({fp32 / bf16:.0f}x slower)",
        f"its matmuls are {fp32 / bf16:.0f}x slower than fp32 here",
    ]


def cross_run_mfu(lever: str) -> float:
    """A lever's MFU with the comparison run's FLOPs and fp32 peak (the levers file has none)."""
    train = load(TRAIN)
    wall = load(LEVERS)["levers"][lever]["wall_s"]
    return train["summary"]["model_flops"] / wall / 1e9 / train["matmul_peaks"]["fp32"]["gflops"]


def lever_figures() -> list[str]:
    levers = load(LEVERS)["levers"]
    speed = {name: x(entry["defaults_speedup_over_this"]) for name, entry in levers.items()}
    rate = {name: entry["input_tokens_per_s"] for name, entry in levers.items()}
    base = max(rate["defaults"], rate["defaults (again)"])
    drift = base / min(rate["defaults"], rate["defaults (again)"]) - 1
    defaults, checkpointed = levers["defaults"], levers["gradient checkpointing on"]
    compiled, batch8 = levers["torch.compile (decoder)"], levers["batch 8 (half the steps)"]
    peak = defaults["training_peak_rss_mib"]
    saved = peak - checkpointed["training_peak_rss_mib"]
    active = rate["OMP_WAIT_POLICY=ACTIVE"]
    for name in ("no supervised-only logits", "no length bucketing", "batch 8 (half the steps)"):
        claim(
            abs(levers[name]["defaults_speedup_over_this"] - 1) < drift, f"{name}: within the drift"
        )
    claim(
        compiled["median_step_s"] >= defaults["median_step_s"],
        "the compiled steps were not faster than eager ones",
    )
    return [
        f"{drift:.0%} in this run",
        f"Turning it off made training {speed['no supervised-only logits']} slower here",
        f"{speed['no length bucketing']} here, within the drift",
        f"one thread was {speed['1 torch thread']} slower",
        (
            f"`ACTIVE` was {active / base - 1:.0%} faster ({active:.1f} against {base:.1f} input "
            "tokens/s)"
        ),
        (
            f"{speed['batch 8 (half the steps)']} slower (within the drift), with a training peak "
            f"of {batch8['training_peak_rss_mib']:.0f} MiB against {peak:.0f} MiB"
        ),
        (
            f"cut the training peak RSS by {saved:.0f} MiB "
            f"({checkpointed['training_peak_rss_mib']:.0f} against {peak:.0f} MiB, "
            f"{saved / peak:.0%} less) and made training {speed['gradient checkpointing on']} "
            "slower"
        ),
        (
            f"the first, compiling step took {compiled['first_step_s']:.1f} s against "
            f"{defaults['first_step_s']:.1f} s"
        ),
        (
            f"(median {compiled['median_step_s']:.2f} against {defaults['median_step_s']:.2f} s "
            "per step)"
        ),
        f"so {compiled['steps']} steps took {speed['torch.compile (decoder)']} as long",
        f"trained the same 32 examples at {rate['defaults']:.1f} input tokens/s with the defaults",
        (
            f"that would be {cross_run_mfu('defaults'):.1%} "
            f"({cross_run_mfu('OMP_WAIT_POLICY=ACTIVE'):.1%} with `OMP_WAIT_POLICY=ACTIVE`)"
        ),
        f"the quieter levers run {rate['defaults']:.1f} with the defaults",
    ]


def eval_figures() -> list[str]:
    data = load(EVAL)
    rows = {name.split()[0]: row for name, row in data["summary"].items()}
    loglik = {key: row for key, row in rows.items() if row["kind"] == "loglikelihood"}
    ratio = {key: x(row["goaltune"]["ratio_vs_lm_eval"]) for key, row in loglik.items()}
    packed = {
        key: x(row["goaltune"]["items_per_s"] / row["goaltune (shared_context off)"]["items_per_s"])
        for key, row in loglik.items()
    }
    overall = x(data["totals"]["loglikelihood"]["ratio_vs_lm_eval"])
    generation = x(data["totals"]["generation"]["ratio_vs_lm_eval"])
    ours, theirs = rows["ifeval-mini"]["goaltune"], rows["ifeval-mini"]["lm-eval"]
    gap = max(row["goaltune"]["agreement"]["max_abs_loglikelihood_gap"] for row in loglik.values())
    tokens = next(t for t in data["settings"]["tasks"] if t["kind"] == "generation")["max_gen_toks"]
    under = [k for k, r in loglik.items() if r["goaltune"]["ratio_vs_lm_eval"] < 2]
    claim(data["totals"]["generation"]["ratio_vs_lm_eval"] < 1, "Generation was **not** faster")
    claim(not data["loglikelihood_accuracy_mismatch"], "the same per-item accuracy")
    return [
        (
            f"log-likelihood benchmarks {overall} faster than lm-eval overall (ARC-Easy "
            f"{ratio['ARC-Easy']}, HellaSwag {ratio['HellaSwag']}, MMLU {ratio['MMLU']})"
        ),
        f"Generation was **not** faster: {generation} lm-eval's speed",
        f"Log-likelihood tasks together ran {overall} lm-eval's speed",
        " and ".join(f"{k} ({ratio[k]})" for k in under) + " stay under 2x",
        (
            f"Generation ran at {generation}: on {ours['items']} prompts with {tokens} new tokens "
            f"goaltune took {ours['seconds']:.1f} s and lm-eval {theirs['seconds']:.1f} s"
        ),
        (
            f"goaltune's peak RSS was {ours['peak_rss_mib']:.0f} MiB against lm-eval's "
            f"{theirs['peak_rss_mib']:.0f} MiB"
        ),
        (
            f"{packed['ARC-Easy']} on ARC-Easy and {packed['HellaSwag']} on HellaSwag over the "
            f"harness-identical path, {packed['MMLU']} on MMLU"
        ),
        f"at most {gap:.1e} here",
        f"({generation} in the committed run)",
        f"goaltune's generation was {generation} the harness's",
    ]


def sequential_figures() -> list[str]:
    guards = load("benchmarks/results/sequential_items.json")["guards"]
    ifeval, mc = guards["builtin:ifeval-mini"]["sizes"], guards["builtin:mc-mini"]["sizes"]
    mmlu = "14,042 (MMLU test)"
    everywhere = all(
        size["share_same_band_as_all_items"] == 1.0
        for entry in guards.values()
        for size in entry["sizes"].values()
    )
    claim(everywhere, "in every simulated run the band it stopped in was the band all items gave")
    return [
        f"median of {ifeval[mmlu]['median_items_scored']:.0f} (ifeval-like)",
        f"or {mc[mmlu]['median_items_scored']:.0f} (mc-like) items",
        f"{ifeval[mmlu]['median_share_scored']:.1%} and {mc[mmlu]['median_share_scored']:.1%} of",
    ]


def bf16_host_figures() -> list[str]:
    levers = load("benchmarks/results/train_levers_bf16.json")
    entries = levers["levers"]
    first, again = entries["defaults"], entries["defaults (again)"]
    sdpa = entries["model's own attention (sdpa)"]
    drift = max(first["input_tokens_per_s"], again["input_tokens_per_s"]) / min(
        first["input_tokens_per_s"], again["input_tokens_per_s"]
    )
    mfus = sorted(e["mfu"] for n, e in entries.items() if n.startswith("defaults"))
    trl = load("benchmarks/results/train_throughput_bf16_quick.json")
    ours, same = trl["results"]["goaltune"], trl["results"]["trl-bf16-nogc-goaltune-batches"]
    gap = abs(ours["final_train_loss"] / same["final_train_loss"] - 1)
    claim(0.02 < gap <= 0.03, "the losses differ by up to 3% even on the same batches")
    claim(not trl["summary"]["goals"]["tokens_per_s_at_least_3x"], "not 3x TRL's bf16 setting")
    peaks = levers["matmul_peaks"]
    return [
        f"bf16 {peaks['bf16']['gflops']:.1f} GFLOP/s against fp32 {peaks['fp32']['gflops']:.1f}",
        f"drifted by {drift - 1:.0%}",
        f"({first['final_train_loss']:.4f}; {sdpa['final_train_loss']:.4f} with SDPA)",
        f"{mfus[0]:.1%}-{mfus[-1]:.1%}",
    ]


def demo_figures() -> list[str]:
    record = load("docs/run-records/json-api-20261203T115620Z.json")["files"]
    metrics = record["training_metrics.json"]
    return [
        f"before-evaluation {record['eval/before.json']['elapsed_s']:.1f} s",
        f"training {metrics['train_time_s']:.1f} s",
        f"{metrics['loss']['tokens_per_second']:.1f} input tokens/s",
        f"after-evaluation {record['eval/after.json']['elapsed_s']:.1f} s",
    ]


def test_goals_the_text_calls_unmet_are_unmet() -> None:
    train, evaluation = load(TRAIN)["summary"]["goals"], load(EVAL)["goals"]
    claim(not train["tokens_per_s_at_least_3x"], "3x TRL is not met")
    claim(not train["mfu_above_50pct"], "over 50% MFU is not met")
    claim(not evaluation["generation_at_least_2x"], "2x lm-eval on generation is not met")


@pytest.mark.parametrize(
    "figures",
    [
        training_figures,
        lever_figures,
        eval_figures,
        sequential_figures,
        demo_figures,
        bf16_host_figures,
    ],
    ids=["training", "levers", "eval", "sequential", "demo", "bf16-host"],
)
def test_the_text_quotes_the_results_files(figures: Any) -> None:
    text = prose()
    missing = [figure for figure in figures() if figure not in text]
    assert not missing, f"{DOC.name} does not quote these figures of the results: {missing}"
