"""mc:PATH: every accepted file layout scores exactly as the same items laid out as MMLU CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks import load_benchmark, run_benchmarks

LETTERS = "ABCD"
# (subject, question, choices, gold index): written for these tests
ITEMS = [
    ("anatomy", "Which organ pumps blood through the body?", ["lung", "heart", "liver", "skin"], 1),
    ("anatomy", "How many chambers does a human heart have?", ["two", "three", "four", "six"], 2),
    ("anatomy", "Which bone protects the brain?", ["skull", "femur", "rib", "tibia"], 0),
    (
        "virology",
        "What does a virus need to copy itself?",
        ["sunlight", "soil", "a host cell", "salt water"],
        2,
    ),
    (
        "virology",
        "Which of these is caused by a virus?",
        ["scurvy", "rickets", "sunburn", "the common cold"],
        3,
    ),
]


def _mmlu_dir(root: Path) -> Path:
    folder = root / "mmlu"
    folder.mkdir(parents=True)
    for subject in ("anatomy", "virology"):
        with (folder / f"{subject}_test.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            for item_subject, question, choices, gold in ITEMS:
                if item_subject == subject:
                    writer.writerow([question, *choices, LETTERS[gold]])
    return root


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def layouts(root: Path) -> dict[str, Path]:
    """The same items in each accepted layout, with each accepted kind of answer."""
    lists = [
        {"question": q, "choices": c, "answer": LETTERS[g], "subject": s} for s, q, c, g in ITEMS
    ]
    columns = [
        {"question": q, **dict(zip(LETTERS, c)), "answer": g, "subject": s} for s, q, c, g in ITEMS
    ]
    objects = [
        {"question": q, "choices": dict(zip(LETTERS, c)), "answer": c[g], "subject": s}
        for s, q, c, g in ITEMS
    ]
    csv_path = root / "columns.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["subject", "question", "A", "B", "C", "D", "answer"])
        for s, q, c, g in ITEMS:
            writer.writerow([s, q, *c, c[g] if g % 2 else str(g)])  # text and index answers
    json_path = root / "objects.json"
    json_path.write_text(json.dumps(objects, indent=1))
    return {
        "jsonl, choices list, letter": _jsonl(root / "lists.jsonl", lists),
        "jsonl, A-D keys, index": _jsonl(root / "columns.jsonl", columns),
        "csv, A-D columns, text or index": csv_path,
        "json list, choices object, text": json_path,
    }


@pytest.fixture(scope="module")
def mmlu_reference(tiny_model_and_tokenizer, tmp_path_factory) -> dict:
    model, tokenizer = tiny_model_and_tokenizer
    data_dir = _mmlu_dir(tmp_path_factory.mktemp("mmlu"))
    results = run_benchmarks(
        model,
        tokenizer,
        ["mmlu:anatomy,virology"],
        str(data_dir),
        batch_size=4,
        resamples=200,
        show_progress=False,
    )
    return results["mmlu:anatomy,virology"]


@pytest.mark.parametrize(
    "layout",
    [
        "jsonl, choices list, letter",
        "jsonl, A-D keys, index",
        "csv, A-D columns, text or index",
        "json list, choices object, text",
    ],
)
def test_each_layout_scores_as_mmlu_csv(
    layout, tiny_model_and_tokenizer, mmlu_reference, tmp_path, one_torch_thread
):
    model, tokenizer = tiny_model_and_tokenizer
    spec = f"mc:{layouts(tmp_path)[layout]}"
    result = run_benchmarks(
        model, tokenizer, [spec], batch_size=4, resamples=200, show_progress=False
    )[spec]
    assert result["primary_metric"] == "acc"
    for metric in ("acc", "acc_macro", "acc:anatomy", "acc:virology"):
        assert result["metrics"][metric] == mmlu_reference["metrics"][metric], metric
    for mine, theirs in zip(result["items"], mmlu_reference["items"], strict=True):
        assert mine["prompt"] == theirs["prompt"]
        assert mine["loglikelihoods"] == theirs["loglikelihoods"]
        assert (mine["output"], mine["target"]) == (theirs["output"], theirs["target"])
        assert mine["metrics"]["acc"] == theirs["metrics"]["acc"]
    # one-letter choices all have the same length, so acc_norm is acc
    assert result["metrics"]["acc_norm"]["score"] == result["metrics"]["acc"]["score"]


def test_cloze_style_scores_choice_texts_and_primary_option(
    tiny_model_and_tokenizer, tmp_path, one_torch_thread
):
    model, tokenizer = tiny_model_and_tokenizer
    path = layouts(tmp_path)["jsonl, choices list, letter"]
    spec = f"mc:{path}:style=cloze,primary=acc_norm"
    result = run_benchmarks(model, tokenizer, [spec], limit=3, resamples=200, show_progress=False)[
        spec
    ]
    assert result["primary_metric"] == "acc_norm"
    first = result["items"][0]
    assert first["prompt"] == "Question: Which organ pumps blood through the body?\nAnswer:"
    assert first["target"] == "B" and first["output"] in LETTERS
    assert result["metrics"]["acc"]["n"] == 3 and result["settings"]["subjects"] == ["anatomy"]


def test_items_without_subject_use_the_file_name(tmp_path):
    path = _jsonl(
        tmp_path / "pump_manual-test.jsonl",
        [{"question": "Q?", "choices": ["a", "b", "c"], "answer": "c"}],
    )
    item = load_benchmark(f"mc:{path}").items[0]
    assert item.context.startswith(
        "The following are multiple choice questions (with answers) "
        "about pump manual.\n\nQ?\nA. a\nB. b\nC. c\nAnswer:"
    )
    assert item.choices == ["A", "B", "C"] and item.gold == 2 and item.subject is None
    named = load_benchmark(f"mc:{path}:subject=pumps").items[0]
    assert "about pumps.\n\n" in named.context


@pytest.mark.parametrize(
    "record, message",
    [
        ({"choices": ["a", "b"], "answer": "A"}, "line 1: field 'question' is missing"),
        ({"question": "Q", "choices": ["a"], "answer": "A"}, "line 1: field 'choices': expected 2"),
        ({"question": "Q", "choices": ["a", "b"]}, "line 1: field 'answer' is missing"),
        (
            {"question": "Q", "choices": ["a", "b"], "answer": "C"},
            "line 1: field 'answer': 'C' is not",
        ),
        ({"question": "Q", "choices": ["a", "b"], "answer": 2}, "index 2 is out of range 0..1"),
        (
            {"question": "Q", "choices": ["1", "2"], "answer": "1"},
            "field 'answer': '1' is ambiguous \\(the text of choice A or index 1\\)",
        ),
        (
            {"question": "Q", "A": "a", "C": "c", "answer": "A"},
            "field 'C': choice columns must run",
        ),
        (
            {"question": "Q", "choices": {"A": "a", "C": "c"}, "answer": "A"},
            "keys must be the letters",
        ),
        ({"question": "Q", "choices": ["a", 2], "answer": "A"}, "list of non-empty strings"),
    ],
)
def test_bad_records_name_file_line_and_field(tmp_path, record, message):
    path = _jsonl(tmp_path / "bad.jsonl", [record])
    with pytest.raises(
        BenchmarkError, match=f"bad.jsonl, {message}" if "line" in message else message
    ):
        load_benchmark(f"mc:{path}")


def test_csv_errors_and_options(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("question,A,B,answer\nQ1,x,y,B\nQ2,x,y\n")
    with pytest.raises(BenchmarkError, match="t.csv, line 3: expected 4 fields"):
        load_benchmark(f"mc:{path}")
    path.write_text("question,A,B,answer\nQ1,x,y,B\nQ2,x,y,Z\n")
    with pytest.raises(BenchmarkError, match="t.csv, line 3: field 'answer': 'Z'"):
        load_benchmark(f"mc:{path}")
    path.write_text("id,question,A,B,answer\n7,Q1,x,y,B\n7,Q2,x,y,A\n")
    with pytest.raises(BenchmarkError, match="line 3: field 'id': '7' repeats the id of .*line 2"):
        load_benchmark(f"mc:{path}")
    with pytest.raises(BenchmarkError, match="style must be one of letters, cloze"):
        load_benchmark(f"mc:{path}:style=essay")
    with pytest.raises(BenchmarkError, match="mc: needs a file path"):
        load_benchmark("mc:")
    with pytest.raises(BenchmarkError, match="unsupported file type '.txt'"):
        (tmp_path / "x.txt").write_text("q")
        load_benchmark(f"mc:{tmp_path / 'x.txt'}")
