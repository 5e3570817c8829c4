"""MMLU, as the harness's default `mmlu` task (zero-shot), over all 57 subjects or a selection.

Spec: `mmlu` (all subjects) or `mmlu:college_medicine,global_facts`.
Data: Hub `cais/mmlu` (config = subject, split test), or a data_dir with the original
`<subject>_test.csv` files (no header; question, A, B, C, D, answer letter), optionally under
`mmlu/`. `limit` applies per subject, as the harness's --limit applies per subtask.
Prompt: "The following are multiple choice questions (with answers) about {subject with
spaces}.\n\n{question.strip()}\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer:", choices " A".." D";
metric acc.
Summaries: `acc` over all items (the harness's group score, weighted by subject size),
`acc_macro` (mean of the subject scores; its CI is the bootstrap of the items re-weighted so
that their mean is the macro average) and `acc:<subject>` per subject.
"""

from __future__ import annotations

import string
from typing import Any

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks.data import Row, hub_rows, local_file, read_csv
from goaltune.evaluate.benchmarks.multiple_choice import ChoiceItem, score_choice_items
from goaltune.evaluate.benchmarks.registry import (
    Benchmark,
    Loaded,
    RunContext,
    option_list,
    register,
)
from goaltune.evaluate.benchmarks.results import benchmark_result, summarize
from goaltune.evaluate.stats import score_summary

SUBJECTS = (
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "business_ethics",
    "clinical_knowledge",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_medicine",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "econometrics",
    "electrical_engineering",
    "elementary_mathematics",
    "formal_logic",
    "global_facts",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_european_history",
    "high_school_geography",
    "high_school_government_and_politics",
    "high_school_macroeconomics",
    "high_school_mathematics",
    "high_school_microeconomics",
    "high_school_physics",
    "high_school_psychology",
    "high_school_statistics",
    "high_school_us_history",
    "high_school_world_history",
    "human_aging",
    "human_sexuality",
    "international_law",
    "jurisprudence",
    "logical_fallacies",
    "machine_learning",
    "management",
    "marketing",
    "medical_genetics",
    "miscellaneous",
    "moral_disputes",
    "moral_scenarios",
    "nutrition",
    "philosophy",
    "prehistory",
    "professional_accounting",
    "professional_law",
    "professional_medicine",
    "professional_psychology",
    "public_relations",
    "security_studies",
    "sociology",
    "us_foreign_policy",
    "virology",
    "world_religions",
)
LETTERS = ["A", "B", "C", "D"]
CSV_FIELDS = ["question", "A", "B", "C", "D", "answer"]


def description(subject: str) -> str:
    """The harness's per-subject description line (followed by a blank line)."""
    return (
        "The following are multiple choice questions (with answers) about "
        f"{subject.replace('_', ' ')}.\n\n"
    )


def mmlu_context(subject: str, question: str, choices: list[str]) -> str:
    """Description plus the harness's default doc_to_text (letters go on past D if needed)."""
    options = "".join(
        f"\n{letter}. {choice}" for letter, choice in zip(string.ascii_uppercase, choices)
    )
    return f"{description(subject)}{question.strip()}{options}\nAnswer:"


def subjects(options: str | None) -> list[str]:
    """The selected subjects (all 57 without options); unknown names raise BenchmarkError."""
    chosen = option_list(options) or list(SUBJECTS)
    unknown = [s for s in chosen if s not in SUBJECTS]
    if unknown:
        raise BenchmarkError(
            f"mmlu: unknown subject(s) {', '.join(unknown)}; known: {', '.join(SUBJECTS)}"
        )
    return list(dict.fromkeys(chosen))


def _item(row: Row, subject: str, index: int, choices: list[str], answer: int) -> ChoiceItem:
    if len(choices) != 4:
        row.fail(f"expected 4 choices, got {len(choices)}")
    return ChoiceItem(
        id=f"{subject}-{index:04d}",
        context=mmlu_context(subject, row.get("question", str), choices),
        choices=list(LETTERS),
        gold=answer,
        subject=subject,
    )


def csv_item(row: Row, subject: str, index: int) -> ChoiceItem:
    """An item from a record of the original CSV release."""
    answer = row.data["answer"].strip()
    if answer not in LETTERS:
        row.fail(f"answer must be one of A, B, C, D, got '{answer}'")
    choices = [row.data[letter] for letter in LETTERS]
    return _item(row, subject, index, choices, LETTERS.index(answer))


def hub_item(row: Row, subject: str, index: int) -> ChoiceItem:
    """An item from a cais/mmlu row (`choices` list, `answer` index)."""
    answer = row.get("answer", int)
    if not 0 <= answer < 4:
        row.fail(f"answer index {answer} is out of range")
    return _item(row, subject, index, row.strings("choices"), answer)


def _subject_items(subject: str, data_dir: str | None) -> tuple[list[ChoiceItem], str]:
    if data_dir is None:
        rows, source = hub_rows("cais/mmlu", subject, "test")
        return [hub_item(row, subject, i) for i, row in enumerate(rows, 1)], source
    path = local_file(data_dir, "mmlu", f"{subject}_test.csv")
    rows = read_csv(path, CSV_FIELDS)
    return [csv_item(row, subject, i) for i, row in enumerate(rows, 1)], str(path.parent)


def load(options: str | None, data_dir: str | None, limit: int | None) -> Loaded:
    """Items of the selected subjects (at most `limit` per subject)."""
    chosen, items, sources = subjects(options), [], []
    for subject in chosen:
        subject_items, source = _subject_items(subject, data_dir)
        items += subject_items[:limit]
        sources.append(source)
    return Loaded(items, "; ".join(dict.fromkeys(sources)), {"subjects": chosen})


def macro_summary(records: list[dict[str, Any]], resamples: int) -> dict[str, float | int]:
    """Mean of per-subject acc; CI from the bootstrap of items weighted N / (S * n_subject)."""
    sizes: dict[str, int] = {}
    for record in records:
        sizes[record["subject"]] = sizes.get(record["subject"], 0) + 1
    scale = len(records) / len(sizes)
    weighted = [r["metrics"]["acc"] * scale / sizes[r["subject"]] for r in records]
    summary = score_summary(weighted, resamples)
    per_subject = [
        sum(r["metrics"]["acc"] for r in records if r["subject"] == s) / n for s, n in sizes.items()
    ]
    summary["score"] = sum(per_subject) / len(per_subject)
    return summary


def summarize_mmlu(
    records: list[dict[str, Any]], resamples: int, settings: dict[str, Any]
) -> dict[str, dict]:
    """acc overall, macro-averaged and per subject."""
    metrics = summarize(records, ["acc"], resamples)
    if records:
        metrics["acc_macro"] = macro_summary(records, resamples)
    for subject in settings["subjects"]:
        chosen = [r for r in records if r["subject"] == subject]
        metrics[f"acc:{subject}"] = summarize(chosen, ["acc"], resamples)["acc"]
    return metrics


def run(context: RunContext, loaded: Loaded) -> dict[str, Any]:
    """Score the items; acc overall, macro-averaged and per subject."""
    records = score_choice_items(context, loaded.items, ("acc",))
    metrics = summarize_mmlu(records, context.resamples, loaded.settings)
    return benchmark_result("acc", metrics, records, loaded.source, loaded.settings)


register(Benchmark("mmlu", load, run, summarize_mmlu))
