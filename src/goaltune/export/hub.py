"""A run on the Hugging Face Hub: the model card (README.md) and the upload of its folder."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from goaltune.adapters import ADAPTER_FILES, RunModel
from goaltune.config import load_config
from goaltune.errors import GoaltuneError, RunError
from goaltune.export.merge import save_merged
from goaltune.format import pct, points, score_text
from goaltune.models import EMBEDDED_MODELS
from goaltune.report.inputs import RunData, entry, load_run
from goaltune.run_folder import RunFolder, TrainingMetrics, VerdictRecord, resolve_run_dir

# Hub ids of the embedded models, for model cards and adapter configs.
EMBEDDED_HUB_IDS = {"smollm2-135m-instruct": "HuggingFaceTB/SmolLM2-135M-Instruct"}


def hub_base_model(name_or_path: str) -> str | None:
    """The Hub id of a base model, when it has one (embedded alias or Hub id; not local files)."""
    if name_or_path in EMBEDDED_MODELS:
        return EMBEDDED_HUB_IDS.get(name_or_path)
    path = Path(name_or_path).expanduser()
    looks_local = name_or_path.startswith((".", "/", "~")) or path.suffix.lower() == ".gguf"
    if looks_local or path.exists() or name_or_path.count("/") > 1:
        return None
    return name_or_path


def _front_matter(base_model: str | None, merged: bool) -> str:
    meta: dict[str, Any] = {}
    if base_model:
        meta["base_model"] = base_model
    meta["library_name"] = "transformers" if merged else "peft"
    meta["pipeline_tag"] = "text-generation"
    meta["tags"] = ["goaltune", "lora", "text-generation"] + ([] if merged else ["peft"])
    return f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n"


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def _verdict_lines(verdict: VerdictRecord) -> list[str]:
    lines = [f"## Verdict: {verdict.verdict}", "", verdict.headline, ""]
    rows = [
        (
            d.name,
            d.role,
            pct(d.before),
            pct(d.after),
            points(d.delta_points),
            f"[{points(d.ci_low_points, '')}, {points(d.ci_high_points, '')}]",
            d.change,
        )
        for d in verdict.deltas
    ]
    if rows:
        header = ("metric", "role", "before", "after", "change (points)", "95% CI", "reading")
        lines += _table(header, rows) + [""]
    return lines


def _score_rows(run: RunData) -> list[tuple[str, str, str, str]]:
    before, after = run.before, run.after
    rows: list[tuple[str, str, str, str]] = []
    if after is None:
        return rows
    task_before = before.task if before else None
    for metric, new in (after.task.metrics if after.task else {}).items():
        rows.append(("task", metric, score_text(entry(task_before, metric)), score_text(new)))
    for name, bench in after.benchmarks.items():
        metric = bench.primary_metric or "acc"
        old = entry(before.benchmarks.get(name) if before else None, metric)
        rows.append((name, metric, score_text(old), score_text(entry(bench, metric))))
    return rows


def _training_lines(metrics: TrainingMetrics) -> list[str]:
    data, loss, hyper = metrics.data, metrics.loss, metrics.hyperparameters
    facts = [
        ("base model", metrics.model.name_or_path),
        ("training data", data.get("source")),
        (
            "train / validation examples",
            f"{data.get('train_examples')} / {data.get('validation_examples')}",
        ),
        ("data fingerprint (sha256)", f"`{data.get('fingerprint_sha256')}`"),
        ("steps", metrics.steps),
        ("supervised tokens seen", metrics.tokens_seen),
        ("train loss (first -> final)", f"{loss.first_train_loss} -> {loss.final_train_loss}"),
        ("validation loss (first -> final)", f"{loss.first_val_loss} -> {loss.final_val_loss}"),
        ("best validation loss", loss.best_val_loss),
        ("training time", f"{metrics.train_time_s} s on {metrics.device}"),
        ("wall time", f"{metrics.wall_time_s} s"),
    ]
    lines = ["## Training", ""] + _table(("", ""), facts) + ["", "### Hyperparameters", ""]
    return lines + _table(("name", "value"), list(hyper.items())) + [""]


def _usage_lines(repo_hint: str, base_model: str | None, merged: bool) -> list[str]:
    if merged:
        code = [
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            f'model = AutoModelForCausalLM.from_pretrained("{repo_hint}")',
            f'tokenizer = AutoTokenizer.from_pretrained("{repo_hint}")',
        ]
    else:
        code = [
            "from peft import AutoPeftModelForCausalLM",
            f'model = AutoPeftModelForCausalLM.from_pretrained("{repo_hint}")',
        ]
        if not base_model:
            code.insert(
                0, "# the base model was local: set base_model_name_or_path in adapter_config.json"
            )
    return ["## Usage", "", "```python", *code, "```", ""]


def _gguf_source_note(run: RunData) -> str | None:
    model = run.metrics.model if run.metrics else None
    if model is None or model.kind != "gguf":
        return None
    return (
        f"Trained on the dequantized weights of `{Path(str(model.location)).name}`; "
        "on the full-precision base the adapter's effect may differ slightly."
    )


def model_card(run_dir: Path, merged: bool = False, repo_hint: str = "REPO_ID") -> str:
    """README.md for the Hub: front matter, verdict, before/after scores, training facts."""
    run = load_run(run_dir)
    base_name = ((run.config or {}).get("model") or {}).get("name_or_path", "unknown")
    base_model = hub_base_model(base_name)
    what = "merged into its base model" if merged else "LoRA adapter"
    goal = ((run.config or {}).get("goal") or {}).get("description")
    lines = [
        _front_matter(base_model, merged),
        f"# {run.name}",
        "",
        f"A {what} for `{base_model or base_name}`, fine-tuned and evaluated with goaltune.",
        "",
    ]
    if goal:
        lines += [f"**Goal:** {goal}", ""]
    if (source := _gguf_source_note(run)) is not None:
        lines += [source, ""]
    if run.verdict:
        lines += _verdict_lines(run.verdict)
    if scores := _score_rows(run):
        lines += ["## Scores before and after", ""]
        lines += _table(("evaluation", "metric", "before", "after"), scores) + [""]
    if run.metrics:
        lines += _training_lines(run.metrics)
    return "\n".join(lines + _usage_lines(repo_hint, base_model, merged))


def _stage_adapter(run_dir: Path, staging: Path, base_model: str | None) -> None:
    adapter = RunFolder(run_dir).adapter_dir
    for name in ADAPTER_FILES:
        if not (adapter / name).is_file():
            raise RunError(f"{adapter / name}: missing; train the run first")
        shutil.copy2(adapter / name, staging / name)
    if base_model:
        settings = json.loads((staging / "adapter_config.json").read_text())
        settings["base_model_name_or_path"] = base_model
        (staging / "adapter_config.json").write_text(json.dumps(settings, indent=2) + "\n")


def prepare_hub_folder(
    run: str | Path,
    staging_dir: str | Path,
    merged: RunModel | None = None,
    repo_hint: str = "REPO_ID",
) -> Path:
    """Build exactly the folder `push_to_hub` uploads: the adapter (or the merged model when
    `merged` is given) and a model card README.md carrying the run's metrics and verdict."""
    run_dir = resolve_run_dir(run)
    staging = Path(staging_dir)
    if merged is not None:
        save_merged(merged, staging, overwrite=True)
    else:
        staging.mkdir(parents=True, exist_ok=True)
        base = hub_base_model(load_config(RunFolder(run_dir).config_path).model.name_or_path)
        _stage_adapter(run_dir, staging, base)
    card = model_card(run_dir, merged=merged is not None, repo_hint=repo_hint)
    (staging / "README.md").write_text(card, encoding="utf-8")
    return staging


def upload_folder_to_hub(folder: Path, repo_id: str, private: bool = False) -> str:
    """Create the repo if needed and upload the folder; returns the repo URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            commit_message="Upload fine-tune from goaltune",
        )
    except Exception as error:  # noqa: BLE001 - network/auth/Hub error types vary by version
        raise GoaltuneError(f"upload to {repo_id} failed: {error}") from error
    return str(url)


def push_to_hub(
    run: str | Path, repo_id: str, merged: RunModel | None = None, private: bool = False
) -> str:
    """Stage the adapter (or merged model) with its model card and upload it to `repo_id`."""
    with tempfile.TemporaryDirectory(prefix="goaltune-hub-") as tmp:
        folder = prepare_hub_folder(run, Path(tmp) / "upload", merged, repo_hint=repo_id)
        return upload_folder_to_hub(folder, repo_id, private)
