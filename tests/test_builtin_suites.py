"""The built-in benchmark suites (builtin:ifeval-mini, builtin:mc-mini) and their generator."""

from __future__ import annotations

import ast
import importlib.util
import json
import operator
import re
import unittest.mock
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

# the generator is an authoring script outside the package: load it from scripts/
_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_builtin_suites.py"
_spec = importlib.util.spec_from_file_location("make_builtin_suites", _SCRIPT)
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

DATA_DIR = gen.DATA_DIR
IFEVAL_PATH = DATA_DIR / "ifeval_mini.jsonl"
MC_PATH = DATA_DIR / "mc_mini.jsonl"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def ifeval_rows() -> list[dict]:
    return _rows(IFEVAL_PATH)


@pytest.fixture(scope="module")
def mc_rows() -> list[dict]:
    return _rows(MC_PATH)


# --------------------------------------------------------------------------------------
# generator
# --------------------------------------------------------------------------------------


def test_generator_reproduces_committed_files_byte_for_byte():
    assert IFEVAL_PATH.read_bytes() == gen.render_jsonl(gen.build_ifeval_items()).encode()
    assert MC_PATH.read_bytes() == gen.render_jsonl(gen.build_mc_items()).encode()


def test_generator_main_writes_identical_files(tmp_path):
    assert gen.main(["--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "ifeval_mini.jsonl").read_bytes() == IFEVAL_PATH.read_bytes()
    assert (tmp_path / "mc_mini.jsonl").read_bytes() == MC_PATH.read_bytes()


def test_generator_is_deterministic():
    assert gen.build_mc_items() == gen.build_mc_items()
    assert gen.build_ifeval_items() == gen.build_ifeval_items()


# --------------------------------------------------------------------------------------
# ifeval-mini: layout and prompt/kwargs consistency (no lm-eval needed)
# --------------------------------------------------------------------------------------

_ORDINALS = {1: ("1st", "first"), 2: ("2nd", "second"), 3: ("3rd", "third")}
_LANGUAGE_NAMES = {"es": "Spanish", "fr": "French", "de": "German"}


def test_ifeval_layout(ifeval_rows):
    assert len(ifeval_rows) >= 80
    keys = [row["key"] for row in ifeval_rows]
    assert all(type(k) is int for k in keys)
    assert len(set(keys)) == len(keys)
    prompts = [row["prompt"] for row in ifeval_rows]
    assert len(set(prompts)) == len(prompts)
    for row in ifeval_rows:
        assert list(row) == ["key", "prompt", "instruction_id_list", "kwargs"]
        ids, kwargs = row["instruction_id_list"], row["kwargs"]
        assert 1 <= len(ids) <= 2, row["key"]
        assert len(set(ids)) == len(ids), row["key"]
        assert len(kwargs) == len(ids) and all(isinstance(k, dict) for k in kwargs)
        # lm-eval drops falsy kwargs before build_description, so none may be falsy.
        for kw in kwargs:
            assert all(value for value in kw.values()), row["key"]
    distinct = Counter(i for row in ifeval_rows for i in row["instruction_id_list"])
    assert len(distinct) >= 15
    assert sum(len(row["instruction_id_list"]) == 2 for row in ifeval_rows) >= 10


def _mentions_number(prompt: str, number: int) -> bool:
    return re.search(rf"(?<![\d.]){number}(?![\d])", prompt) is not None


def test_ifeval_prompts_state_their_kwargs(ifeval_rows):
    """Each instruction's arguments are actually spelled out in the prompt text."""
    for row in ifeval_rows:
        prompt, key = row["prompt"], row["key"]
        lower = prompt.lower()
        for iid, kw in zip(row["instruction_id_list"], row["kwargs"]):
            for name in (
                "num_bullets",
                "num_highlights",
                "num_sections",
                "num_paragraphs",
                "num_placeholders",
                "num_sentences",
                "num_words",
                "frequency",
                "let_frequency",
                "capital_frequency",
            ):
                if name in kw:
                    assert _mentions_number(prompt, kw[name]), (key, iid, name)
            for name in ("relation", "let_relation", "capital_relation"):
                if name in kw:
                    assert kw[name] in ("less than", "at least")
                    assert kw[name] in lower, (key, iid, name)
            for word in kw.get("keywords", []) + kw.get("forbidden_words", []):
                assert re.search(rf"\b{re.escape(word)}\b", lower), (key, iid, word)
            if "keyword" in kw:
                assert re.search(rf"\b{re.escape(kw['keyword'])}\b", lower), (key, iid)
            if "letter" in kw:
                assert f"letter {kw['letter']}" in lower, (key, iid)
            for name in ("end_phrase", "postscript_marker", "section_spliter"):
                if name in kw:
                    assert kw[name] in prompt, (key, iid, name)
            if "first_word" in kw:
                assert kw["first_word"] == kw["first_word"].lower()
                assert f"word {kw['first_word']}" in lower, (key, iid)
                assert any(o in lower for o in _ORDINALS[kw["nth_paragraph"]]), (key, iid)
                assert kw["nth_paragraph"] <= kw["num_paragraphs"]
            if "language" in kw:
                assert _LANGUAGE_NAMES[kw["language"]] in prompt, (key, iid)
            if "prompt_to_repeat" in kw:
                assert prompt.startswith(kw["prompt_to_repeat"] + "\n\n"), key
            if iid == "length_constraints:number_paragraphs":
                assert "***" in prompt, key
            if iid == "detectable_format:constrained_response":
                for option in ("My answer is yes.", "My answer is no.", "My answer is maybe."):
                    assert option in prompt, key
            if iid == "combination:two_responses":
                assert "******" in prompt, key
            if iid == "detectable_format:title":
                assert re.search(r"<<[^<>\n]+>>", prompt), key


# --------------------------------------------------------------------------------------
# ifeval-mini: validated against lm-eval's own checkers
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ifeval_registry():
    """lm-eval's IFEval instruction registry, imported without network access.

    Importing ``lm_eval.tasks.ifeval.instructions_util`` calls ``nltk.download("punkt_tab")``
    when NLTK's punkt_tab data is missing.  Only ``build_description`` is used here, which
    needs no NLTK data, so the download is stubbed out rather than attempted offline.
    """
    try:
        import nltk
    except ImportError as exc:  # pragma: no cover - depends on the environment
        pytest.skip(f"nltk not installed ({exc}); lm-eval IFEval checkers unavailable")
    try:
        nltk.data.find("tokenizers/punkt_tab")
        have_punkt_tab = True
    except LookupError:
        have_punkt_tab = False
    try:
        if have_punkt_tab:
            from lm_eval.tasks.ifeval import instructions_registry
        else:
            with unittest.mock.patch.object(nltk, "download", return_value=False):
                from lm_eval.tasks.ifeval import instructions_registry
    except ImportError as exc:
        pytest.skip(f"lm-eval IFEval checkers not importable: {exc}")
    except LookupError as exc:  # pragma: no cover - NLTK data issue at import time
        pytest.skip(f"lm-eval IFEval checkers need NLTK data that is not installed: {exc}")
    return instructions_registry


def _normalise(value):
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, (list, tuple)):
        return sorted({v.strip().lower() for v in value})
    return value


def test_ifeval_ids_are_registered_and_kwargs_build(ifeval_rows, ifeval_registry):
    registry = ifeval_registry.INSTRUCTION_DICT
    for row in ifeval_rows:
        for iid, kw in zip(row["instruction_id_list"], row["kwargs"]):
            assert iid in registry, (row["key"], iid)
            checker = registry[iid](iid)
            description = checker.build_description(**kw)
            assert isinstance(description, str) and description, (row["key"], iid)
            assert set(kw) <= set(checker.get_instruction_args_keys()), (row["key"], iid)
            args = checker.get_instruction_args() or {}
            for name, value in kw.items():
                # The checker kept our value rather than drawing a random default.
                assert _normalise(args[name]) == _normalise(value), (row["key"], iid, name)


def test_ifeval_items_have_no_conflicting_instructions(ifeval_rows, ifeval_registry):
    conflicts = ifeval_registry.INSTRUCTION_CONFLICTS
    for row in ifeval_rows:
        ids = row["instruction_id_list"]
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                assert b not in conflicts.get(a, set()), (row["key"], a, b)
                assert a not in conflicts.get(b, set()), (row["key"], a, b)


def test_ifeval_repeat_prompt_scores_an_echoing_response(ifeval_rows, ifeval_registry):
    """A response that echoes the request passes lm-eval's repeat_prompt checker."""
    registry = ifeval_registry.INSTRUCTION_DICT
    rows = [r for r in ifeval_rows if "combination:repeat_prompt" in r["instruction_id_list"]]
    assert rows
    for row in rows:
        kw = row["kwargs"][row["instruction_id_list"].index("combination:repeat_prompt")]
        checker = registry["combination:repeat_prompt"]("combination:repeat_prompt")
        checker.build_description(**kw)
        assert checker.check_following(kw["prompt_to_repeat"] + "\nHere is my answer.")
        assert not checker.check_following("Here is my answer.")


# --------------------------------------------------------------------------------------
# mc-mini
# --------------------------------------------------------------------------------------


def test_mc_layout(mc_rows):
    assert len(mc_rows) >= 100
    ids = [row["id"] for row in mc_rows]
    assert len(set(ids)) == len(ids)
    questions = [row["question"] for row in mc_rows]
    assert len(set(questions)) == len(questions)
    for row in mc_rows:
        assert list(row) == ["id", "question", "choices", "answerKey", "subject"]
        assert re.fullmatch(r"mc-mini-\d{4}", row["id"])
        texts, labels = row["choices"]["text"], row["choices"]["label"]
        assert labels == ["A", "B", "C", "D"]
        assert len(texts) == 4 and len(set(texts)) == 4, row["id"]
        assert row["answerKey"] in labels
        for text in texts:
            # Short continuations, scored by log-likelihood after "Answer:".
            assert text == text.strip() and text, row["id"]
            assert len(text.split()) <= 8 and "\n" not in text, (row["id"], text)
        assert row["question"].strip().endswith("?"), row["id"]


def test_mc_subjects_balanced(mc_rows):
    counts = Counter(row["subject"] for row in mc_rows)
    assert set(counts) == {"arithmetic", "units", "science", "common_sense"}
    assert all(n >= 20 for n in counts.values()), counts


def test_mc_answer_letters_balanced(mc_rows):
    counts = Counter(row["answerKey"] for row in mc_rows)
    for letter in "ABCD":
        share = counts[letter] / len(mc_rows)
        assert 0.15 <= share <= 0.35, counts


def _answer_text(row: dict) -> str:
    return row["choices"]["text"][row["choices"]["label"].index(row["answerKey"])]


def _leading_number(text: str) -> Fraction:
    match = re.match(r"-?\d+(?:\.\d+)?", text)
    assert match, text
    return Fraction(match.group())


_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def _eval(expression: str) -> Fraction:
    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return Fraction(str(node.value))
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow):
                return left ** int(right)
            return _OPS[type(node.op)](left, right)
        raise AssertionError(f"unexpected node in {expression!r}")

    return walk(ast.parse(expression, mode="eval"))


def test_mc_arithmetic_answers_recomputed(mc_rows):
    rows = {row["question"]: row for row in mc_rows if row["subject"] == "arithmetic"}
    assert len(rows) == len(gen.ARITHMETIC_SPECS)
    for question, expression, _, _ in gen.ARITHMETIC_SPECS:
        row = rows[question]
        expected = _eval(expression)
        # The stored expression uses numbers from the question.
        assert set(re.findall(r"\d+", expression)) & set(re.findall(r"\d+", question))
        assert _leading_number(_answer_text(row)) == expected, question
        wrong = [t for t in row["choices"]["text"] if t != _answer_text(row)]
        assert all(_leading_number(t) != expected for t in wrong), question


_WORD_OPS = [
    (r",? following the usual order of operations", ""),
    (r"\bthree quarters of\b", "3 / 4 *"),
    (r"\bhalf of\b", "1 / 2 *"),
    (r"\bpercent of\b", "/ 100 *"),
    (r"\bto the power of\b", "**"),
    (r"\bsquared\b", "** 2"),
    (r"\bdivided by\b", "/"),
    (r"\btimes\b|\bx\b", "*"),
    (r"\bminus\b", "-"),
    (r",? plus\b", " +"),
]


def test_mc_arithmetic_parsed_from_question_text(mc_rows):
    """Independently of the generator's expressions, turn 'What is ...?' into arithmetic."""
    checked = 0
    for row in mc_rows:
        match = re.fullmatch(r"What is (.+)\?", row["question"])
        if row["subject"] != "arithmetic" or not match:
            continue
        expression = match.group(1)
        for pattern, replacement in _WORD_OPS:
            expression = re.sub(pattern, replacement, expression)
        if not re.fullmatch(r"[\d.+\-*/ ]+", expression):
            continue
        assert _leading_number(_answer_text(row)) == _eval(expression), row["question"]
        checked += 1
    assert checked >= 20


# Independent conversion table: size of one unit in SI base units (exact definitions).
_SIZES = {
    "millimetre": Fraction(1, 1000),
    "centimetre": Fraction(1, 100),
    "metre": Fraction(1),
    "kilometre": Fraction(1000),
    "inch": Fraction(254, 10000),
    "foot": Fraction(3048, 10000),
    "yard": Fraction(9144, 10000),
    "gram": Fraction(1, 1000),
    "kilogram": Fraction(1),
    "tonne": Fraction(1000),
    "pound": Fraction(45359237, 100000000),
    "ounce": Fraction(45359237, 1600000000),
    "millilitre": Fraction(1, 1000),
    "litre": Fraction(1),
    "second": Fraction(1),
    "minute": Fraction(60),
    "hour": Fraction(3600),
    "day": Fraction(86400),
    "week": Fraction(604800),
}
_PLURALS = {"inches": "inch", "feet": "foot"}


def _singular(word: str) -> str:
    return _PLURALS.get(word, word[:-1] if word.endswith("s") else word)


def test_mc_unit_conversions_recomputed(mc_rows):
    rows = [row for row in mc_rows if row["subject"] == "units"]
    assert len(rows) >= 20
    for row in rows:
        question, answer = row["question"], _answer_text(row)
        count = re.fullmatch(r"How many (\w+) are in ([\d.]+) (\w+)\?", question)
        temp = re.fullmatch(
            r"What is ([\d.]+) degrees (Celsius|Fahrenheit) in degrees (Celsius|Fahrenheit)\?",
            question,
        )
        if count:
            dst, value, src = _singular(count.group(1)), count.group(2), _singular(count.group(3))
            expected = Fraction(value) * _SIZES[src] / _SIZES[dst]
            unit_word = count.group(1)
        else:
            assert temp, question
            value, src, dst = Fraction(temp.group(1)), temp.group(2), temp.group(3)
            assert src != dst
            expected = value * 9 / 5 + 32 if src == "Celsius" else (value - 32) * 5 / 9
            unit_word = dst
        assert _leading_number(answer) == expected, question
        for text in row["choices"]["text"]:
            # Every choice is a number in the asked-for unit.
            assert re.fullmatch(r"\d+(?:\.\d+)? .+", text), text
            assert _singular(text.split()[-1]) == _singular(unit_word), (question, text)
            if text != answer:
                assert _leading_number(text) != expected, (question, text)
