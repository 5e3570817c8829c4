"""Scoring agrees with lm-eval's own functions on fixed responses; NLTK works offline."""

from __future__ import annotations

import json
from pathlib import Path

import nltk
import pytest

from goaltune.evaluate.benchmarks import load_benchmark
from goaltune.evaluate.benchmarks.data import Row
from goaltune.evaluate.benchmarks.gsm8k import STOP, GsmItem
from goaltune.evaluate.benchmarks.gsm8k import score as gsm8k_score
from goaltune.evaluate.benchmarks.hellaswag import hellaswag_item
from goaltune.evaluate.benchmarks.ifeval import score as ifeval_score
from goaltune.evaluate.benchmarks.ifeval import seeded_random, summarize_ifeval
from goaltune.evaluate.nltk_data import PUNKT_TAB_FILES, ensure_punkt_tab

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")


def _lm_eval_tasks() -> Path:
    import lm_eval

    return Path(lm_eval.__file__).parent / "tasks"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# --- NLTK punkt_tab, offline -------------------------------------------------------------


def test_ensure_punkt_tab_writes_an_offline_copy(tmp_path, monkeypatch):
    from nltk.tokenize.punkt import load_punkt_params
    from punkt.data import load_module

    monkeypatch.setenv("GOALTUNE_CACHE", str(tmp_path))
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "nowhere")])
    ensure_punkt_tab()
    folder = tmp_path / "nltk_data" / "tokenizers" / "punkt_tab" / "english"
    assert all((folder / name).is_file() for name in PUNKT_TAB_FILES)
    assert str(tmp_path / "nltk_data") in nltk.data.path
    params = load_punkt_params(nltk.data.find("tokenizers/punkt_tab/english/"))
    english = load_module("english")
    assert params.abbrev_types == set(english.ABBREV_TYPES)
    assert params.collocations == set(english.COLLOCATIONS)
    assert params.sent_starters == set(english.SENT_STARTERS)
    assert dict(params.ortho_context) == dict(english.ORTHO_CONTEXT)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Dr. Smith went to Washington. He arrived at 5 p.m. on Friday.",
            ["Dr. Smith went to Washington.", "He arrived at 5 p.m. on Friday."],
        ),
        (
            "Mr. and Mrs. Brown live in the U.S. They moved there in 1999.",
            ["Mr. and Mrs. Brown live in the U.S.", "They moved there in 1999."],
        ),
        ("The U.S. economy grew. Prices rose.", ["The U.S. economy grew.", "Prices rose."]),
        ("It costs $3.50. That is cheap!", ["It costs $3.50.", "That is cheap!"]),
        ("Hello! How are you? I am fine.", ["Hello!", "How are you?", "I am fine."]),
        # "e.g" is not among Punkt's English abbreviations, so NLTK splits after it.
        ("I like fruit, e.g. apples. Do you?", ["I like fruit, e.g.", "apples.", "Do you?"]),
    ],
)
def test_sentence_tokenizer(text, sentences):
    ensure_punkt_tab()
    assert nltk.sent_tokenize(text) == sentences


def test_word_tokenizer():
    ensure_punkt_tab()
    assert nltk.word_tokenize("Dr. Smith didn't pay $3.50 in the U.S. today.") == [
        "Dr.",
        "Smith",
        "did",
        "n't",
        "pay",
        "$",
        "3.50",
        "in",
        "the",
        "U.S.",
        "today",
        ".",
    ]


def test_ifeval_counters_and_checkers():
    ensure_punkt_tab()
    from lm_eval.tasks.ifeval import instructions, instructions_util

    text = "Dr. Smith went to Washington. He arrived at 5 p.m. on Friday. Mr. Brown stayed home!"
    assert instructions_util.count_sentences(text) == 3
    assert instructions_util.count_words("Dr. Smith didn't pay $3.50 in the U.S.") == 11
    sentences = instructions.NumberOfSentences("length_constraints:number_sentences")
    sentences.build_description(num_sentences=3, relation="less than")
    assert not sentences.check_following(text)
    sentences.build_description(num_sentences=3, relation="at least")
    assert sentences.check_following(text)
    words = instructions.NumberOfWords("length_constraints:number_words")
    words.build_description(num_words=11, relation="less than")
    assert not words.check_following("Dr. Smith didn't pay $3.50 in the U.S.")


# --- IFEval scoring ---------------------------------------------------------------------

RESPONSES = [
    "",
    "hello world this is a short lowercase response without any punctuation at all",
    "PARAGRAPH 1\nTHIS IS ALL CAPS.\n\nPARAGRAPH 2\nSTILL CAPS, WITH A COMMA.",
    '"<<My Title>>\n* first point\n* second point\n\nP.S. thanks [name] [address] [date]"',
    '```json\n{"answer": "My answer is yes."}\n```',
    (
        "Dr. Smith arrived at 5 p.m. He left. *highlighted section* and *another one*.\n\n***\n\n"
        "Second paragraph here. Is there anything else I can help with?"
    ),
    "My answer is yes.",
    "Section 1\nFirst part.\nSection 2\nSecond part.\n******\nAnother response entirely.",
]


def _ifeval_cases() -> list[tuple[dict, str]]:
    rows = _jsonl(SHARED / "ifeval" / "input_data.jsonl")
    cases = [(row, RESPONSES[i % len(RESPONSES)]) for i, row in enumerate(rows)]
    repeats = [row for row in rows if "combination:repeat_prompt" in row["instruction_id_list"]]
    return cases + [(row, f"{row['prompt']}\n\nSure, here it is.") for row in repeats]


@needs_shared
def test_ifeval_scores_equal_lm_eval_process_results():
    """Same numbers as the harness; `random` seeded alike for checkers that draw values."""
    ensure_punkt_tab()
    from lm_eval.tasks.ifeval import utils

    loaded = load_benchmark("ifeval", str(SHARED))
    items = {str(item.key): item for item in loaded.items}
    records, harness = [], []
    for row, response in _ifeval_cases():
        records.append({"id": str(row["key"]), **ifeval_score(items[str(row["key"])], response)})
        with seeded_random(row["key"]):
            harness.append(utils.process_results(row, [response]))
    ours = summarize_ifeval(records, resamples=100)
    for metric in ("prompt_level_strict_acc", "prompt_level_loose_acc"):
        values = [h[metric] for h in harness]
        assert ours[metric]["score"] == sum(values) / len(values)
        assert ours[metric]["n"] == len(values)
    for metric in ("inst_level_strict_acc", "inst_level_loose_acc"):
        flat = [v for h in harness for v in h[metric]]
        assert ours[metric]["score"] == utils.agg_inst_level_acc([h[metric] for h in harness])
        assert ours[metric]["n"] == len(flat) > len(harness)
    assert 0 < ours["inst_level_loose_acc"]["score"] < 1


# --- GSM8K scoring ----------------------------------------------------------------------

GSM_RESPONSES = [
    "The answer is 18.",
    "#### 18",
    "She makes $18 every day.",
    "18",
    "-3",
    "1,234.5",
    "So the total is 3 + 5 = 8.\n#### 8",
    "#### $1,000",
    "I don't know",
    "",
    "The result is 18. Then 20.",
    "12.50",
    "Natalia sold 48/2 = 24 clips in May.\n#### 72",
    "#### 3\n#### 4",
    "It is $70,000.",
    "The answer: 540 meters.",
    "20 - 7 = 13 #### 13.",
]


def _harness_gsm8k_scores(docs: list[dict], responses: list[str]) -> dict[str, list[float]]:
    """Apply gsm8k.yaml's filters and exact_match (with its kwargs) through lm-eval."""
    from lm_eval.api.instance import Instance
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters import build_filter_ensemble
    from lm_eval.tasks._yaml_loader import load_yaml

    config = load_yaml(_lm_eval_tasks() / "gsm8k" / "gsm8k.yaml")
    assert config["generation_kwargs"]["until"] == STOP
    metric = config["metric_list"][0]
    kwargs = {
        k: v for k, v in metric.items() if k not in {"metric", "aggregation", "higher_is_better"}
    }
    scores = {}
    for spec in config["filter_list"]:
        steps = [
            (s["function"], {k: v for k, v in s.items() if k != "function"}) for s in spec["filter"]
        ]
        instances = [Instance("generate_until", doc, ("", {}), 0) for doc in docs]
        for instance, response in zip(instances, responses):
            instance.resps = [response]
        build_filter_ensemble(spec["name"], steps).apply(instances)
        scores[f"exact_match,{spec['name']}"] = [
            float(
                exact_match_hf_evaluate(
                    predictions=[i.filtered_resps[spec["name"]]],
                    references=[i.doc["answer"]],
                    **kwargs,
                )["exact_match"]
            )
            for i in instances
        ]
    return scores


@needs_shared
def test_gsm8k_scores_equal_lm_eval_filters_and_exact_match():
    docs = _jsonl(SHARED / "gsm8k" / "test.jsonl")
    pairs = [(docs[i % len(docs)], r) for i, r in enumerate(GSM_RESPONSES)]
    pairs += [(doc, doc["answer"]) for doc in docs[:20]]
    pairs += [(doc, "The answer is " + doc["answer"].split("#### ")[-1] + ".") for doc in docs[:20]]
    harness = _harness_gsm8k_scores([d for d, _ in pairs], [r for _, r in pairs])
    ours = [gsm8k_score(r, GsmItem(d["question"], d["answer"]))[0] for d, r in pairs]
    for metric, values in harness.items():
        assert [o[metric] for o in ours] == values
    assert 0 < sum(harness["exact_match,strict-match"]) < len(pairs)
    assert sum(harness["exact_match,flexible-extract"]) > sum(harness["exact_match,strict-match"])


# --- HellaSwag preprocessing ------------------------------------------------------------


@needs_shared
def test_hellaswag_items_equal_lm_eval_process_docs():
    import datasets
    from lm_eval.tasks.hellaswag import utils

    rows = _jsonl(SHARED / "hellaswag" / "hellaswag_val.jsonl")
    rows.append(
        {
            **rows[0],
            "ctx_a": "How to cook [title] Boil water.  [step] Add salt.",
            "endings": [" [header] Wait. ", "Stir  it", "x [title] y", "z"],
        }
    )
    processed = utils.process_docs(datasets.Dataset.from_list(rows))
    for row, doc in zip(rows, processed):
        item = hellaswag_item(Row(row, "test"))
        assert (item.context, item.choices, item.gold) == (
            doc["query"],
            doc["choices"],
            doc["gold"],
        )
