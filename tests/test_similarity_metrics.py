"""Reference similarity metrics: the libraries' own scores, in [0, 1], with clear data errors."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from goaltune.errors import DataError
from goaltune.evaluate.metrics import score_output

PAIRS = [
    ("The parcel leaves today, arrives Friday.", "Your parcel leaves today, it is due Friday."),
    ("Hi Ana, your refund is on its way.", "Hi Ana,\n\nThe refund went out this morning."),
    ("completely unrelated words here", "Your order is still with us."),
    ("", "Something to match."),
]  # fmt: skip


@pytest.mark.parametrize(("output", "reference"), PAIRS)
def test_scores_equal_the_libraries_own(output: str, reference: str) -> None:
    values = score_output(output, {"reference": reference}, ["rouge_l", "chrf", "bleu"])
    rouge = rouge_scorer.RougeScorer(["rougeL"]).score(reference, output)["rougeL"].fmeasure
    assert values["rouge_l"] == pytest.approx(rouge)
    assert values["chrf"] == pytest.approx(sacrebleu.sentence_chrf(output, [reference]).score / 100)
    assert values["bleu"] == pytest.approx(sacrebleu.sentence_bleu(output, [reference]).score / 100)
    assert all(0.0 <= v <= 1.0 for v in values.values())


def test_identical_text_scores_one() -> None:
    text = "The cat sat on the mat today."
    values = score_output(text, {"reference": text}, ["rouge_l", "chrf", "bleu", "length_ratio"])
    assert values == pytest.approx({"rouge_l": 1.0, "chrf": 1.0, "bleu": 1.0, "length_ratio": 1.0})
    assert values["bleu"] <= 1.0  # sacrebleu's 100.00000000000004 is clipped


def test_several_references_use_the_libraries_multi_reference_scores() -> None:
    output, references = "the cat sat", ["a dog ran", "the cat sat down"]
    item = {"references": references, "reference": "ignored"}
    values = score_output(output, item, ["rouge_l", "bleu", "chrf"])
    rouge = rouge_scorer.RougeScorer(["rougeL"]).score_multi(references, output)["rougeL"]
    assert values["rouge_l"] == pytest.approx(rouge.fmeasure)
    assert values["bleu"] == pytest.approx(sacrebleu.sentence_bleu(output, references).score / 100)
    assert values["chrf"] == pytest.approx(sacrebleu.sentence_chrf(output, references).score / 100)


def test_length_ratio_is_the_shorter_over_the_longer_word_count() -> None:
    item = {"reference": "one two three four"}
    assert score_output("a b", item, ["length_ratio"])["length_ratio"] == 0.5
    assert score_output("a b c d e f g h", item, ["length_ratio"])["length_ratio"] == 0.5
    assert score_output("w x y z", item, ["length_ratio"])["length_ratio"] == 1.0
    assert score_output("", {"reference": ""}, ["length_ratio"])["length_ratio"] == 1.0
    assert score_output("", item, ["length_ratio"])["length_ratio"] == 0.0


@pytest.mark.parametrize("metric", ["rouge_l", "chrf", "bleu", "length_ratio"])
def test_a_missing_reference_is_a_data_error_naming_the_metric(metric: str) -> None:
    with pytest.raises(DataError, match=f"item q: metric {metric} needs a 'reference'"):
        score_output("x", {"id": "q"}, [metric])
