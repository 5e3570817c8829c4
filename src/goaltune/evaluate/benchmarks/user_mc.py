"""`mc:PATH`: a user's multiple-choice file, scored by log-likelihood like MMLU (acc, acc_norm).

Spec: `mc:data/test.jsonl` or `mc:data/test.csv:style=cloze,primary=acc_norm,subject=law`.
Records (JSONL, JSON list or CSV with a header, see user_files):
- `question`: text.
- choices: `choices` as a list (or an object `{"A": .., "B": ..}`), or columns `A`, `B`, `C`, ..
  (2 to 26 choices; in CSV, blank trailing columns are left out).
- `answer`: a letter (`"B"`), a 0-based index (`1`, or `"1"` in CSV) or the text of the right
  choice; a value that could mean two different choices is an error.
- optional `subject` (scores per subject) and `id` (else `<file stem>-<n>`).
Options:
- style (default `letters`): the MMLU prompt, "The following are multiple choice questions (with
  answers) about {subject}.\n\n{question}\nA. ..\nB. ..\nAnswer:", choices scored as " A", " B"..;
  the same items as MMLU CSV files score the same through `mmlu`. `cloze`: the ARC prompt
  "Question: {question}\nAnswer:", each choice's text scored as " {text}" (small models often
  do better here, and acc_norm differs from acc only in this style).
- primary (default `acc`): the metric the verdict uses, `acc` or `acc_norm`.
- subject: the subject named in the letters prompt for items without one (default: the file
  name without its extension and a trailing `_test`/`-test`).
Summaries: `acc`, `acc_norm`; with several subjects also `acc_macro` (as MMLU) and
`acc:<subject>`, `acc_norm:<subject>`. `limit` keeps the first N items of the file.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks.data import Row
from goaltune.evaluate.benchmarks.mmlu import macro_summary, mmlu_context
from goaltune.evaluate.benchmarks.multiple_choice import ChoiceItem, score_choice_items
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

NAME = "mc"
LETTERS = string.ascii_uppercase
METRICS = ("acc", "acc_norm")
STYLES = ("letters", "cloze")
DEFAULTS: dict[str, Any] = {"style": "letters", "primary": "acc", "subject": ""}


def default_subject(path: Path) -> str:
    """The file name without extension and a trailing `_test` / `-test`."""
    stem = path.stem
    for suffix in ("_test", "-test"):
        stem = stem.removesuffix(suffix)
    return stem


def _choice_list(row: Row, value: Any) -> list[str]:
    if isinstance(value, dict):
        keys = list(LETTERS[: len(value)])
        if sorted(value) != keys:
            row.fail(f"field 'choices': object keys must be the letters {', '.join(keys)}")
        value = [value[key] for key in keys]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        row.fail("field 'choices' must be a list of non-empty strings")
    return value


def _letter_columns(row: Row) -> list[str]:
    count = 0
    while count < len(LETTERS) and LETTERS[count] in row.data:
        count += 1
    extra = [key for key in LETTERS[count:] if key in row.data]
    if extra:
        row.fail(
            f"field '{extra[0]}': choice columns must run A, B, C.. without a gap "
            f"(no '{LETTERS[count]}')"
        )
    return [text_field(row, letter) or "" for letter in LETTERS[:count]]


def choices_of(row: Row) -> list[str]:
    """The item's choices, from `choices` or from the letter columns; 2 to 26 of them."""
    choices = (
        _choice_list(row, row.data["choices"]) if "choices" in row.data else _letter_columns(row)
    )
    if not 2 <= len(choices) <= len(LETTERS):
        row.fail(
            f"field 'choices': expected 2 to {len(LETTERS)} choices (a 'choices' list or "
            f"columns A, B, ..), got {len(choices)}"
        )
    return choices


def _readings(answer: str, choices: list[str]) -> dict[int, str]:
    """Every choice the answer text can denote, with how it denotes it."""
    found: dict[int, str] = {}
    text = answer.strip()
    for index, choice in enumerate(choices):
        if choice.strip() == text:
            found.setdefault(index, f"the text of choice {LETTERS[index]}")
    if text.isdigit() and int(text) < len(choices):
        found.setdefault(int(text), f"index {text}")
    if len(text) == 1 and text.upper() in LETTERS[: len(choices)]:
        found.setdefault(LETTERS.index(text.upper()), f"letter {text.upper()}")
    return found


def gold_index(row: Row, choices: list[str]) -> int:
    """The right choice from `answer`: letter, 0-based index or choice text."""
    if "answer" not in row.data:
        row.fail("field 'answer' is missing (a letter, a 0-based index or the choice text)")
    answer = row.data["answer"]
    if isinstance(answer, int) and not isinstance(answer, bool):
        if not 0 <= answer < len(choices):
            row.fail(f"field 'answer': index {answer} is out of range 0..{len(choices) - 1}")
        return answer
    if not isinstance(answer, str):
        row.fail("field 'answer' must be a letter, a 0-based index or the choice text")
    readings = _readings(answer, choices)
    if not readings:
        row.fail(
            f"field 'answer': '{answer}' is not a letter A..{LETTERS[len(choices) - 1]}, "
            f"an index 0..{len(choices) - 1} or the text of a choice"
        )
    if len(readings) > 1:
        meanings = " or ".join(readings.values())
        row.fail(
            f"field 'answer': '{answer}' is ambiguous ({meanings}); write the letter of "
            "the right choice"
        )
    return next(iter(readings))


def mc_item(row: Row, number: int, settings: dict[str, Any]) -> ChoiceItem:
    """A ChoiceItem in the configured style from one record."""
    question = text_field(row, "question") or ""
    choices = choices_of(row)
    gold = gold_index(row, choices)
    own_subject = text_field(row, "subject", required=False)
    subject = own_subject or settings["subject"]
    item_id = row.data.get("id", f"{settings['stem']}-{number:04d}")
    if not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        row.fail("field 'id' must be a string or an integer")
    labels = list(LETTERS[: len(choices)])
    if settings["style"] == "letters":
        context, scored, shown = mmlu_context(subject, question, choices), labels, None
    else:
        context, scored, shown = f"Question: {question}\nAnswer:", choices, labels
    return ChoiceItem(
        id=str(item_id),
        context=context,
        choices=scored,
        gold=gold,
        labels=shown,
        subject=own_subject,
    )


def _settings(options: str | None, path: Path) -> dict[str, Any]:
    settings = parse_options(NAME, options, DEFAULTS)
    if settings["style"] not in STYLES:
        raise BenchmarkError(f"{NAME}: style must be one of {', '.join(STYLES)}")
    if settings["primary"] not in METRICS:
        raise BenchmarkError(f"{NAME}: primary must be one of {', '.join(METRICS)}")
    settings["subject"] = settings["subject"] or default_subject(path)
    return settings


def load(options: str | None, data_dir: str | None, limit: int | None) -> Loaded:
    """The file's items (the first `limit`); data_dir does not apply."""
    path, rest = split_path(NAME, options)
    settings = _settings(rest, path)
    rows = read_records(path)
    items = [mc_item(row, n, {**settings, "stem": path.stem}) for n, row in enumerate(rows, 1)]
    seen: dict[str, str] = {}
    for item, row in zip(items, rows):
        if item.id in seen:
            row.fail(f"field 'id': '{item.id}' repeats the id of {seen[item.id]}")
        seen[item.id] = row.where
    items = items[:limit]
    settings["subjects"] = list(dict.fromkeys(i.subject for i in items if i.subject is not None))
    return Loaded(items, str(path), settings)


def summarize_mc(
    records: list[dict[str, Any]], resamples: int, settings: dict[str, Any]
) -> dict[str, dict]:
    """acc and acc_norm overall and, where items name subjects, per subject."""
    metrics = summarize(records, list(METRICS), resamples)
    subjects = settings["subjects"]
    if len(subjects) > 1 and all("subject" in r for r in records):
        metrics["acc_macro"] = macro_summary(records, resamples)
    for subject in subjects:
        chosen = [r for r in records if r.get("subject") == subject]
        for metric, summary in summarize(chosen, list(METRICS), resamples).items():
            metrics[f"{metric}:{subject}"] = summary
    return metrics


def run(context: RunContext, loaded: Loaded) -> dict[str, Any]:
    """Score the items; acc and acc_norm overall and, where items name subjects, per subject."""
    records = score_choice_items(context, loaded.items, METRICS)
    metrics = summarize_mc(records, context.resamples, loaded.settings)
    return benchmark_result(
        loaded.settings["primary"], metrics, records, loaded.source, loaded.settings
    )


register(Benchmark(NAME, load, run, summarize_mc))
