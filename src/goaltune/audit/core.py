"""The data audit: leakage, contamination and data quality of the prepared data, as one record.

Only the tokenizer is needed (for token lengths); benchmarks are read through the registry
without a model. `audit_run` is the first step of `goaltune run`; `audit_config` is
`goaltune audit CONFIG`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from goaltune.audit.contamination import benchmark_contamination, train_ngrams
from goaltune.audit.leaks import TrainIndex, duplicates, leaks
from goaltune.audit.quality import answer_stats, label_distribution, token_lengths
from goaltune.audit.text import example_entry, item_entry
from goaltune.config import RunConfig
from goaltune.data import PreparedData
from goaltune.format import pct
from goaltune.run_folder import RunFolder, utc_now
from goaltune.run_folder.schema import AuditRecord, CompletionStats, LeakCounts

MAJORITY_SHARE = 0.5  # one answer for half the examples: a model can score by always giving it


def audit_data(
    config: RunConfig, tokenizer: Any, data: PreparedData, items: list[dict[str, Any]] | None
) -> AuditRecord:
    """Audit the prepared training data against the task items and the run's benchmarks."""
    settings = config.audit
    train = [example_entry(e, i, "train") for i, e in enumerate(data.train_examples, 1)]
    validation = [
        example_entry(e, i, "validation") for i, e in enumerate(data.validation_examples, 1)
    ]
    references = counts_references(config)
    index = TrainIndex(
        train, settings.near_duplicate_threshold, settings.min_reference_chars, references
    )
    tests = [item_entry(item) for item in items] if items else []
    record = AuditRecord(
        created=utc_now(),
        settings={**settings.model_dump(mode="json"), "reference_leaks": references},
        train_examples=len(train),
        test_in_train=leaks(tests, index) if items else None,
        validation_in_train=leaks(validation, index) if validation else None,
        train_duplicates=duplicates(index),
        contamination=benchmark_contamination(
            config.eval.benchmarks,
            config.eval.benchmark_data_dir,
            config.eval.benchmark_limit,
            train_ngrams(train, settings.ngram_size),
        ),
        lengths=token_lengths(data.train_examples, tokenizer, config.data, config.train),
        completions=answer_stats(train),
        references=answer_stats(tests),
        labels=label_distribution(data.train_examples, train),
    )
    record.warnings = warnings(record)
    return record


def counts_references(config: RunConfig) -> bool:
    """Whether a repeated reference answer is a leak: audit.reference_leaks, else not for a
    domain goal (its test asks training's facts in other words, so the answers repeat)."""
    if config.audit.reference_leaks is not None:
        return config.audit.reference_leaks
    return config.goal.purpose != "domain"


def _leak_text(leak: LeakCounts, what: str) -> str:
    return (
        f"{leak.exact + leak.near + leak.reference} of {leak.checked} {what} are in the training "
        f"data ({leak.exact} verbatim, {leak.near} near copies, {leak.reference} with the same "
        "reference)"
    )


def _answer_warnings(stats: CompletionStats | None, what: str) -> list[str]:
    if stats is None:
        return []
    found = []
    if stats.empty:
        found.append(f"{stats.empty} {what} are empty or whitespace only.")
    if stats.count > 1 and stats.most_common_share >= MAJORITY_SHARE:
        found.append(
            f"{pct(stats.most_common_share)} of the {what} are the same answer "
            f"({stats.most_common!r}): a model scores that much by always giving it."
        )
    return found


def warnings(record: AuditRecord) -> list[str]:
    """One sentence per problem the audit found."""
    found = []
    if record.test_in_train and record.test_in_train.items:
        found.append(
            f"{_leak_text(record.test_in_train, 'test items')}: their scores measure memory."
        )
    if record.validation_in_train and record.validation_in_train.items:
        found.append(
            f"{_leak_text(record.validation_in_train, 'validation examples')}: the validation "
            "loss is optimistic."
        )
    for spec, hit in record.contamination.items():
        if hit.contaminated:
            found.append(
                f"{spec}: {hit.contaminated} of {hit.checked} items ({pct(hit.share)}) share "
                f"{record.settings.get('ngram_size')}-grams with the training data: its scores "
                "are inflated."
            )
    lengths = record.lengths
    if lengths and lengths.over_max:
        done = "truncated" if lengths.cut_by == "truncate" else "dropped"
        found.append(
            f"{lengths.over_max} of {lengths.count} training examples are longer than "
            f"train.max_seq_length={lengths.max_seq_length} tokens and were {done}."
        )
    return (
        found
        + _answer_warnings(record.completions, "training completions")
        + _answer_warnings(record.references, "test references")
    )


def summary_lines(record: AuditRecord) -> list[str]:
    """The audit in a few plain lines for the terminal."""
    lines = [f"audit: {record.train_examples} training examples"]
    for name, leak in (("test", record.test_in_train), ("validation", record.validation_in_train)):
        if leak is not None:
            lines.append(
                f"  {name} in train: {len(leak.items)} of {leak.checked} (exact {leak.exact}, "
                f"near {leak.near}, same reference {leak.reference})"
            )
    if record.train_duplicates:
        dup = record.train_duplicates
        lines.append(f"  duplicates in train: {dup.exact} exact, {dup.near} near")
    for spec, hit in record.contamination.items():
        state = hit.skipped and f"not checked: {hit.skipped}"
        lines.append(f"  contamination {spec}: {state or f'{hit.contaminated} of {hit.checked}'}")
    if record.lengths and record.lengths.count:
        n = record.lengths
        lines.append(
            f"  tokens per example: min {n.min}, median {n.median:g}, p95 {n.p95:g}, max {n.max} "
            f"({n.over_max} over max_seq_length {n.max_seq_length})"
        )
    lines += [f"  warning: {warning}" for warning in record.warnings]
    return lines


def audit_config(config: RunConfig) -> AuditRecord:
    """`goaltune audit CONFIG`: prepare the data with the model's tokenizer and audit it."""
    from goaltune.data import load_task_items, prepare_training_data
    from goaltune.models import load_tokenizer

    tokenizer = load_tokenizer(config.model)
    data = prepare_training_data(config.data, config.train, tokenizer)
    items = load_task_items(config.data, data.validation_examples, config.eval.limit)
    return audit_data(config, tokenizer, data, items)


def audit_run(
    config: RunConfig,
    folder: RunFolder,
    tokenizer: Any,
    data: PreparedData,
    items: list[dict[str, Any]] | None,
    show: bool = True,
) -> None:
    """The run's first step: write audit.json and show it (unless quiet, `show` False); a
    failure only costs the audit."""
    console = Console(stderr=True)
    if not config.audit.enabled or folder.audit_path.is_file():  # a resumed run keeps its audit
        return
    try:
        record = audit_data(config, tokenizer, data, items)
        folder.write_audit(record)
    except Exception as error:  # the audit informs the verdict; it must not stop the run
        console.print(f"[yellow]audit failed, the run goes on without it:[/] {error}")
        return
    for line in summary_lines(record) if show else []:
        console.print(line, highlight=False, markup=False)
