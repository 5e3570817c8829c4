"""What a judge is asked (rubric, prompt, answer or answers) and how its reply is read.

A reply is read strictly: the whole reply is the verdict (`PASS`, `4`, `B`, markdown and a final
period aside), or it says `verdict: X` (or `score: N`); pass/fail also takes a reply naming
exactly one of PASS and FAIL. Anything else is unparsable, i.e. `unjudged`, never a score of 0.
"""

from __future__ import annotations

import re
from typing import Literal

Mode = Literal["pass_fail", "score_1_5", "pairwise"]
Messages = list[dict[str, str]]

SYSTEM = (
    "You are a strict, impartial evaluator. You judge answers only against the rubric you are "
    "given, not by length or politeness."
)
_ASK = {
    "pass_fail": "Does the answer meet the rubric? Reply with exactly one word: PASS or FAIL.",
    "score_1_5": "How well does the answer meet the rubric, from 1 (not at all) to 5 (fully)? "
    "Reply with the number only.",
    "pairwise": "Which answer meets the rubric better? Reply with exactly one of: A, B, TIE.",
}
# what a whole reply may be, once markdown, quotes, brackets and a final period are stripped
_WORDS = {
    "pass_fail": {"PASS": "pass", "FAIL": "fail"},
    "score_1_5": {str(n): str(n) for n in range(1, 6)},
    "pairwise": {"A": "A", "B": "B", "TIE": "tie"},
}
_TRIM = " \t\r\n*_`'\"[]().:"


def build_messages(mode: Mode, rubric: str, prompt: str, answers: tuple[str, ...]) -> Messages:
    """The chat a judge answers: the rubric, the user's prompt, the answer (or answers A and B)."""
    if mode == "pairwise":
        shown = f"[Answer A]\n{answers[0]}\n[End of answer A]\n\n[Answer B]\n{answers[1]}\n"
        shown += "[End of answer B]"
    else:
        shown = f"[Answer]\n{answers[0]}\n[End of answer]"
    user = (
        f"[Rubric]\n{rubric}\n[End of rubric]\n\n[Prompt]\n{prompt}\n[End of prompt]\n\n"
        f"{shown}\n\n{_ASK[mode]}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_reply(mode: Mode, reply: str) -> str | None:
    """The verdict in a judge's reply: pass/fail, 1-5, or A/B/tie; None when unparsable."""
    words = _WORDS[mode]
    whole = reply.strip(_TRIM).upper()
    if mode == "score_1_5":
        whole = re.sub(r"\s*/\s*5$", "", whole)
    if whole in words:
        return words[whole]
    stated = re.findall(r"(?:verdict|score)\s*[:=]\s*\**\s*(\w+)", reply, flags=re.IGNORECASE)
    if stated and stated[-1].upper() in words:
        return words[stated[-1].upper()]
    if mode == "pass_fail":
        named = {w.upper() for w in re.findall(r"\b(pass|fail)\b", reply, flags=re.IGNORECASE)}
        if len(named) == 1:
            return words[named.pop()]
    return None


def verdict_value(mode: Mode, verdict: str) -> float:
    """A pass/fail or 1-5 verdict as a score in [0, 1] (1-5 maps to 0, 0.25, ..., 1)."""
    if mode == "pass_fail":
        return 1.0 if verdict == "pass" else 0.0
    return (int(verdict) - 1) / 4


def tuned_share(verdict: str, tuned_is: Literal["A", "B"]) -> float:
    """One pairwise reply from the tuned answer's side: 1 it won, 0.5 a tie, 0 it lost."""
    if verdict == "tie":
        return 0.5
    return 1.0 if verdict == tuned_is else 0.0


def pairwise_value(first: float, second: float) -> float:
    """The tuned answer's result over both orders: 1 when it is preferred on balance (won both,
    or won one and tied the other), 0 when the base is, 0.5 otherwise (ties, or each answer won
    in one order: position bias, no preference)."""
    balance = (first + second) / 2
    return 1.0 if balance > 0.5 else 0.0 if balance < 0.5 else 0.5
