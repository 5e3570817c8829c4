"""qa:PATH: SQuAD-style normalization, exact match and token F1, extraction and options."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks import load_benchmark, run_benchmarks, user_qa
from goaltune.evaluate.benchmarks.user_qa import (
    extract_answer,
    normalize_answer,
    qa_exact_match,
    split_extract,
    token_f1,
)

RECORDS = [
    {
        "id": "capital",
        "question": "Which city is the seat of the Varnholt council?",
        "answers": ["Lindmere", "the town of Lindmere"],
    },
    {"question": "How many bells hang in the tower?", "answer": "seven"},
    {
        "context": "The ferry leaves at dawn.",
        "question": "When does the ferry leave?",
        "answer": ["at dawn", "dawn"],
    },
]


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "towns.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return path


@pytest.mark.parametrize(
    "text, normal",
    [
        ("The  Quick, brown fox!", "quick brown fox"),
        ("An apple a day", "apple day"),
        ("Theory of the anatomy", "theory of anatomy"),  # articles only as whole words
        ("  «Zürich»  — 1,000 m.  ", "zürich 1000 m"),
        ("", ""),
    ],
)
def test_normalize_answer(text, normal):
    assert normalize_answer(text) == normal


def test_exact_match_and_token_f1():
    assert qa_exact_match("The Lindmere.", "lindmere") == 1.0
    assert qa_exact_match("Lindmere town", "Lindmere") == 0.0
    # prediction "seven bells" vs reference "seven": precision 1/2, recall 1 -> F1 2/3
    assert token_f1("seven bells", "seven") == pytest.approx(2 / 3)
    # two of three predicted tokens are in the four-token reference: P 2/3, R 2/4 -> 4/7
    assert token_f1("red blue green", "blue red yellow black") == pytest.approx(4 / 7)
    assert token_f1("the", "a") == 1.0  # both empty after normalization
    assert token_f1("the", "seven") == 0.0
    assert token_f1("seven seven", "seven") == pytest.approx(2 / 3)  # counts, not sets


def test_extract_answer():
    pattern = re.compile(r"Answer:\s*(.+)")
    assert extract_answer("Let me think.\nAnswer: Lindmere\n", pattern) == "Lindmere"
    assert extract_answer("no marker here", pattern) is None
    assert extract_answer("  Lindmere \n", None) == "Lindmere"
    assert extract_answer("x = 42!", re.compile(r"\d+")) == "42"  # no group: the whole match
    assert extract_answer("b", re.compile(r"(a)|(b)")) == "b"  # the group that matched


def test_extract_option_takes_the_rest_of_the_spec(tmp_path):
    path = _file(tmp_path)
    assert split_extract("max_gen_toks=8,extract=(\\d{1,3}),: x") == (
        "max_gen_toks=8",
        "(\\d{1,3}),: x",
    )
    loaded = load_benchmark(f"qa:{path}:max_gen_toks=8,extract=Answer: (\\w+, \\w+)")
    assert loaded.settings == {
        "max_gen_toks": 8,
        "apply_chat_template": True,
        "primary": "qa_exact_match",
        "extract": "Answer: (\\w+, \\w+)",
    }
    assert [i["id"] for i in loaded.items] == ["capital", "towns-0002", "towns-0003"]
    assert loaded.items[2]["references"] == ["at dawn", "dawn"]
    # `exact_match`, the metric's earlier name, still selects it
    assert load_benchmark(f"qa:{path}:primary=exact_match").settings["primary"] == "qa_exact_match"
    with pytest.raises(BenchmarkError, match="not a valid regular expression"):
        load_benchmark(f"qa:{path}:extract=(unclosed")
    with pytest.raises(BenchmarkError, match="unknown option 'temperature=1'"):
        load_benchmark(f"qa:{path}:temperature=1")


@pytest.mark.parametrize(
    "record, message",
    [
        ({"answer": "x"}, "line 1: field 'question' is missing"),
        ({"question": "Q"}, "line 1: field 'answer' must be a string or a non-empty list"),
        ({"question": "Q", "answers": []}, "line 1: field 'answers' must be"),
        ({"question": "Q", "answers": ["x", 3]}, "line 1: field 'answers' must be"),
        ({"question": 5, "answer": "x"}, "line 1: field 'question' must be a non-empty string"),
    ],
)
def test_bad_records(tmp_path, record, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(BenchmarkError, match=f"bad.jsonl, {message}"):
        load_benchmark(f"qa:{path}")


def test_run_scores_the_extracted_answers(tiny_model_and_tokenizer, tmp_path, monkeypatch):
    model, tokenizer = tiny_model_and_tokenizer
    seen = {}

    def fake_generate(model, tokenizer, prompts, max_new_tokens, *args):
        seen.update(prompts=prompts, max_new_tokens=max_new_tokens)
        return ["Answer: the town of Lindmere", "I think seven bells", "Answer: Dawn."]

    monkeypatch.setattr(user_qa, "generate_texts", fake_generate)
    spec = f"qa:{_file(tmp_path)}:primary=f1,max_gen_toks=12,extract=Answer:\\s*(.+)"
    result = run_benchmarks(model, tokenizer, [spec], resamples=200, show_progress=False)[spec]
    assert seen["max_new_tokens"] == 12
    assert seen["prompts"][2].endswith(
        "The ferry leaves at dawn.\n\nWhen does the ferry leave?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert [r["extracted"] for r in result["items"]] == ["the town of Lindmere", None, "Dawn."]
    assert [r["metrics"]["qa_exact_match"] for r in result["items"]] == [1.0, 0.0, 1.0]
    assert result["primary_metric"] == "f1"
    assert result["metrics"]["qa_exact_match"]["score"] == pytest.approx(2 / 3)
    assert result["metrics"]["f1"]["n"] == 3


def test_run_on_a_tiny_model_plain_prompt(tiny_model_and_tokenizer, tmp_path, one_torch_thread):
    model, tokenizer = tiny_model_and_tokenizer
    spec = f"qa:{_file(tmp_path)}:apply_chat_template=false,max_gen_toks=3"
    result = run_benchmarks(
        model, tokenizer, [spec], batch_size=3, resamples=200, show_progress=False
    )[spec]
    assert result["items"][1]["prompt"] == "Question: How many bells hang in the tower?\nAnswer:"
    for record in result["items"]:
        best = max(token_f1(record["output"], r) for r in record["references"])
        assert record["metrics"]["f1"] == best
