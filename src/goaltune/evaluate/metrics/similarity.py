"""Reference similarity: how close an answer is to the item's reference (or `references`).

ROUGE-L is the `rouge-score` package's, BLEU and chrF are `sacrebleu`'s sentence-level scores,
each with the library's defaults and reported in [0, 1]; with several references each takes the
library's own multi-reference score (ROUGE-L: the best reference). `length_ratio` compares word
counts: the shorter over the longer, so 1 is the reference's length and 0.5 is half or twice it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from goaltune.errors import DataError
from goaltune.evaluate.metrics.style import words


def _references(item: dict[str, Any], metric: str) -> list[str]:
    """The item's `references` (a list or one value), else its `reference`, as strings."""
    raw = item.get("references")
    if raw in (None, "", []):
        raw = item.get("reference")
    listed = raw if isinstance(raw, list) else [raw]
    references = [str(r) for r in listed if r is not None]
    if not references:
        raise DataError(f"item {item.get('id')}: metric {metric} needs a 'reference'")
    return references


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"])


def rouge_l(output: str, item: dict[str, Any]) -> dict[str, float]:
    """ROUGE-L F-measure (longest common subsequence of words) against the reference."""
    score = _rouge_scorer().score_multi(_references(item, "rouge_l"), output)["rougeL"]
    return {"rouge_l": float(score.fmeasure)}


def _unit(score: float) -> float:
    # sacrebleu reports 0-100 and a perfect match can come out a hair above 100 in floating point.
    return min(1.0, max(0.0, score / 100.0))


def bleu(output: str, item: dict[str, Any]) -> dict[str, float]:
    """Sentence BLEU (sacrebleu defaults: 13a tokens, exponential smoothing), in [0, 1]."""
    import sacrebleu

    return {"bleu": _unit(sacrebleu.sentence_bleu(output, _references(item, "bleu")).score)}


def chrf(output: str, item: dict[str, Any]) -> dict[str, float]:
    """Sentence chrF (character 6-grams, beta 2; sacrebleu defaults), in [0, 1]."""
    import sacrebleu

    return {"chrf": _unit(sacrebleu.sentence_chrf(output, _references(item, "chrf")).score)}


def length_ratio(output: str, item: dict[str, Any]) -> dict[str, float]:
    """Word count of the answer against the closest reference: shorter / longer, in [0, 1]."""
    # Symmetric so that too long and too short both lower it and a higher score is better, as
    # the verdict assumes of every task metric; the raw counts stay visible in the outputs.
    n = len(words(output))
    best = 0.0
    for reference in _references(item, "length_ratio"):
        m = len(words(reference))
        best = max(best, 1.0 if n == m else min(n, m) / max(n, m))
    return {"length_ratio": best}
