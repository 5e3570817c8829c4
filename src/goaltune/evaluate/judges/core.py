"""Score task outputs with judges: the `judge:NAME` metric of each record, and its judgment.

pass_fail scores 1 or 0 and score_1_5 maps 1-5 onto 0-1, both for the evaluated model's own
answer. pairwise needs the base model's answer too, so it is scored during the after-evaluation,
which gets the before-evaluation's outputs (`baseline`): each item is judged in both orders and
scores the tuned answer's result (1 / 0.5 / 0, see `pairwise_value`). On the before side the base
is compared with itself, a tie by construction (0.5, no judge asked), so the verdict's paired
before/after machinery reads the after score as a win rate and its change from 0.5.

A reply that cannot be parsed leaves the item `unjudged`: its metric is None, so it is left out
of the score and of the before/after pairs, and it is counted in the task's judge summary.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from goaltune.config import DEFAULT_EVAL_BATCH_SIZE, JudgeConfig
from goaltune.errors import DataError
from goaltune.evaluate.judges.backends import Backend, backend
from goaltune.evaluate.judges.cache import JudgmentCache
from goaltune.evaluate.judges.prompts import (
    Messages,
    build_messages,
    pairwise_value,
    parse_reply,
    tuned_share,
    verdict_value,
)
from goaltune.run_folder import RunFolder

JUDGE_PREFIX = "judge:"
Record = dict[str, Any]


def judge_names(metrics: list[str]) -> tuple[list[str], list[str]]:
    """(the metrics that are not judges, the judge names among them)."""
    judges = [m[len(JUDGE_PREFIX) :] for m in metrics if m.startswith(JUDGE_PREFIX)]
    return [m for m in metrics if not m.startswith(JUDGE_PREFIX)], judges


@dataclass(frozen=True)
class Judging:
    """The judges of one evaluation, with the base model's outputs by id for pairwise (after)."""

    judges: dict[str, JudgeConfig]
    baseline: dict[str, str] | None = None
    batch_size: int = DEFAULT_EVAL_BATCH_SIZE
    cache: JudgmentCache | None = None

    def score(self, records: list[Record], metrics: list[list[str]]) -> dict[str, dict[str, Any]]:
        """Judge each record on the judge metrics among its `metrics`; the judge summaries."""
        wanted = [judge_names(names)[1] for names in metrics]
        return judge_records(
            records, wanted, self.judges, self.baseline, self.batch_size, self.cache
        )


def base_outputs(folder: RunFolder) -> dict[str, str]:
    """The before-evaluation's task outputs by item id: what pairwise judges compare with."""
    if not folder.eval_path("before").is_file():
        return {}
    task = folder.read_eval("before").task
    items = task.items if task else []
    return {i.id: i.output for i in items if i.id is not None and i.output is not None}


def judge_records(
    records: list[Record],
    wanted: list[list[str]],
    judges: dict[str, JudgeConfig],
    baseline: dict[str, str] | None,
    batch_size: int,
    cache: JudgmentCache | None = None,
) -> dict[str, dict[str, Any]]:
    """Add `judge:NAME` to the metrics and NAME to the `judgments` of each record scored on it
    (`wanted[i]` names record i's judges); returns each judge's summary for the task section.

    `baseline` holds the base model's output by item id (the after-evaluation's), else None.
    """
    cache = cache or JudgmentCache()
    summaries = {}
    for name in sorted({n for names in wanted for n in names}):
        if name not in judges:
            raise DataError(f"metric judge:{name} names no judge in eval.judges")
        chosen = [record for record, names in zip(records, wanted) if name in names]
        summaries[name] = _judge(name, judges[name], chosen, baseline, batch_size, cache)
    return summaries


def _answers(config: JudgeConfig, record: Record, baseline: dict[str, str] | None) -> Any:
    """The answer tuples to send (one request each), or (value, note) when no judge is needed."""
    output = str(record["output"])
    if config.mode != "pairwise":
        return [(output,)]
    if baseline is None:
        return 0.5, "before: the base answer compared with itself, a tie by construction"
    base = baseline.get(str(record["id"]))
    if base is None:
        return None, "no base answer with this id in the before-evaluation"
    if base == output:
        return 0.5, "the tuned answer equals the base answer: a tie"
    return [(base, output), (output, base)]  # the tuned answer is B, then A


def _judge(
    name: str,
    config: JudgeConfig,
    records: list[Record],
    baseline: dict[str, str] | None,
    batch_size: int,
    cache: JudgmentCache,
) -> dict[str, Any]:
    plans = [_answers(config, record, baseline) for record in records]
    requests = [
        build_messages(config.mode, config.rubric, str(record["prompt"]), answers)
        for record, plan in zip(records, plans)
        if isinstance(plan, list)
        for answers in plan
    ]
    judge = backend(name, config, batch_size)
    replies, cached = _ask_cached(judge, cache, requests) if requests else ([], 0)
    unjudged = []
    for record, plan in zip(records, plans):
        if isinstance(plan, list):
            own, replies = replies[: len(plan)], replies[len(plan) :]
            judgment = _judgment(config, own)
        else:
            judgment = {"mode": config.mode, "value": plan[0], "replies": [], "parsed": []}
            judgment["note"] = plan[1]
        record["metrics"][JUDGE_PREFIX + name] = judgment["value"]
        record.setdefault("judgments", {})[name] = judgment
        if judgment["value"] is None:
            unjudged.append(str(record["id"]))
    if unjudged:
        print(
            f"judge {name}: {len(unjudged)} of {len(records)} items unjudged (no verdict could "
            "be read from the reply); left out of the score",
            file=sys.stderr,
        )
    return {
        "mode": config.mode,
        "judge": judge.identity,
        "judged": len(records) - len(unjudged),
        "unjudged": len(unjudged),
        "unjudged_ids": unjudged,
        "requests": judge.requests,
        "cached": cached,
    }


def _judgment(config: JudgeConfig, replies: list[str]) -> dict[str, Any]:
    """One item's judgment: the raw replies, the verdict read from each, the value (None:
    unjudged)."""
    parsed = [parse_reply(config.mode, reply) for reply in replies]
    value: float | None = None
    if config.mode == "pairwise":
        # shown from the tuned answer's side: it was B in the first order and A in the second
        sides = {"A": ("base", "tuned"), "B": ("tuned", "base")}
        if parsed[0] is not None and parsed[1] is not None:
            value = pairwise_value(tuned_share(parsed[0], "B"), tuned_share(parsed[1], "A"))
        parsed = [p if p in (None, "tie") else sides[p][order] for order, p in enumerate(parsed)]
    elif parsed[0] is not None:
        value = verdict_value(config.mode, parsed[0])
    return {"mode": config.mode, "value": value, "replies": replies, "parsed": parsed}


def _ask_cached(
    judge: Backend, cache: JudgmentCache, requests: list[Messages]
) -> tuple[list[str], int]:
    """Every request's reply, from the cache where it holds one; (replies, how many were cached)."""
    keys = [cache.key(judge.identity, messages) for messages in requests]
    found = {key: cache.get(key) for key in dict.fromkeys(keys)}
    missing = [key for key, reply in found.items() if reply is None]
    first = {key: requests[keys.index(key)] for key in missing}
    for key, reply in zip(missing, judge.ask(list(first.values())) if missing else []):
        cache.put(key, judge.identity, reply)
        found[key] = reply
    cached = sum(1 for key in keys if key not in missing)
    return [str(found[key]) for key in keys], cached
