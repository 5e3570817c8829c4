"""GSM8K test, generated and scored as the harness task `gsm8k`.

Data: Hub `openai/gsm8k` (config main, split test; few-shot examples from split train), or a
data_dir with the original `test.jsonl` (`question`, `answer`), optionally under `gsm8k/`;
few-shot examples come from a `train.jsonl` next to it, else from the other test items.

Options (`gsm8k:num_fewshot=5,apply_chat_template=false,max_gen_toks=256`), harness names:
- num_fewshot (default 0): examples drawn as the harness's default sampler does, random.Random(1234)
  advanced doc by doc (`rnd.sample(train, n)`; from the test pool, n+1 minus the doc itself).
- apply_chat_template (default true): as lm-eval with --apply_chat_template and its default
  fewshot_as_multiturn: each example is a user turn "Question: {q}\nAnswer:" and an assistant turn
  with its full answer, the doc is the last user turn, then the generation prompt. When false,
  the plain harness prompt "Question: {q}\nAnswer: {a}\n\n...Question: {q}\nAnswer:" (encoded
  without special tokens; the harness adds a BOS token if the tokenizer adds one by default).
- max_gen_toks (default 256, the harness's default for HFLM).
Greedy, stopping at "Question:", "</s>", "<|im_end|>" (and EOS). Metrics `exact_match,strict-match`
(regex "#### (\\-?[0-9\\.\\,]+)", first match) and `exact_match,flexible-extract` (regex
"(-?[$0-9.,]{2,})|(-?[0-9]+)", last match), both after removing ",", "$", "(?s).*#### ", "\\.$" from
prediction and reference and lower-casing.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goaltune.evaluate.benchmarks.data import Row, hub_rows, local_file, read_jsonl
from goaltune.evaluate.benchmarks.registry import (
    Benchmark,
    Loaded,
    RunContext,
    parse_options,
    register,
)
from goaltune.evaluate.benchmarks.results import benchmark_result, summarize
from goaltune.evaluate.generation import generate_texts, render_prompts

STOP = ["Question:", "</s>", "<|im_end|>"]
FEWSHOT_SEED = 1234
DEFAULTS: dict[str, Any] = {"num_fewshot": 0, "apply_chat_template": True, "max_gen_toks": 256}
FILTERS = {  # name: (regex, which match)
    "strict-match": (re.compile(r"#### (\-?[0-9\.\,]+)"), 0),
    "flexible-extract": (re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)"), -1),
}
IGNORE = [",", "\\$", "(?s).*#### ", "\\.$"]
METRICS = [f"exact_match,{name}" for name in FILTERS]


@dataclass(frozen=True)
class GsmItem:
    """A problem; equality (used to keep a doc out of its own examples) ignores the id."""

    question: str
    answer: str
    id: str = field(default="", compare=False)

    @property
    def text(self) -> str:
        return f"Question: {self.question}\nAnswer:"


def gsm_item(row: Row, index: int) -> GsmItem:
    """An item from a row with `question` and `answer`."""
    return GsmItem(row.get("question", str), row.get("answer", str), f"gsm8k-{index:04d}")


def extract(text: str, name: str, fallback: str = "[invalid]") -> str:
    """The harness's regex filter + take_first for filter `name`."""
    regex, select = FILTERS[name]
    matches = regex.findall(text)
    if not matches:
        return fallback
    match = matches[select]
    if isinstance(match, tuple):
        match = next((group for group in match if group), fallback)
    return match.strip()


def gsm8k_exact_match(prediction: str, reference: str) -> float:
    """The harness's exact_match with gsm8k's regexes_to_ignore and ignore_case."""
    for pattern in IGNORE:
        prediction, reference = re.sub(pattern, "", prediction), re.sub(pattern, "", reference)
    return float(prediction.lower() == reference.lower())


def fewshot_examples(
    items: list[GsmItem], pool: list[GsmItem], shots: int, pool_is_test: bool
) -> list[list[GsmItem]]:
    """Examples per item, drawn in item order from one seeded generator, as the harness does."""
    if shots == 0:
        return [[] for _ in items]
    rnd = random.Random(FEWSHOT_SEED)
    if not pool_is_test:
        return [rnd.sample(pool, shots) for _ in items]
    return [[x for x in rnd.sample(pool, shots + 1) if x != item][:shots] for item in items]


def build_prompt(tokenizer: Any, item: GsmItem, shots: list[GsmItem], chat: bool) -> str:
    """The generation prompt: multi-turn chat (default) or the plain harness text."""
    if not chat:
        return "".join(f"{s.text} {s.answer}\n\n" for s in shots) + item.text
    messages = []
    for shot in shots:
        messages += [
            {"role": "user", "content": shot.text},
            {"role": "assistant", "content": shot.answer},
        ]
    messages.append({"role": "user", "content": item.text})
    return render_prompts(tokenizer, [messages])[0]


def _local_items(data_dir: str) -> tuple[list[GsmItem], list[GsmItem] | None, str]:
    path = local_file(data_dir, "gsm8k", "test.jsonl")
    items = [gsm_item(row, i) for i, row in enumerate(read_jsonl(path), 1)]
    train_path = Path(path).with_name("train.jsonl")
    train = None
    if train_path.is_file():
        train = [gsm_item(row, i) for i, row in enumerate(read_jsonl(train_path), 1)]
    return items, train, str(path)


def load(options: str | None, data_dir: str | None, limit: int | None) -> Loaded:
    """Test items (first `limit`) and their few-shot examples."""
    settings = parse_options("gsm8k", options, DEFAULTS)
    if data_dir is not None:
        items, train, source = _local_items(data_dir)
    else:
        rows, source = hub_rows("openai/gsm8k", "main", "test")
        items, train = [gsm_item(row, i) for i, row in enumerate(rows, 1)], None
        if settings["num_fewshot"]:
            train_rows, _ = hub_rows("openai/gsm8k", "main", "train")
            train = [gsm_item(row, i) for i, row in enumerate(train_rows, 1)]
    chosen = items[:limit]
    shots = fewshot_examples(chosen, train or items, settings["num_fewshot"], train is None)
    if settings["num_fewshot"]:
        settings["fewshot_split"] = "test" if train is None else "train"
    return Loaded(list(zip(chosen, shots)), source, settings)


def score(output: str, item: GsmItem) -> tuple[dict[str, float], dict[str, str]]:
    """0/1 exact_match per filter and the extracted answers."""
    extracted = {name: extract(output, name) for name in FILTERS}
    metrics = {
        f"exact_match,{name}": gsm8k_exact_match(value, item.answer)
        for name, value in extracted.items()
    }
    return metrics, extracted


def run(context: RunContext, loaded: Loaded) -> dict[str, Any]:
    """Generate greedily and score both filters."""
    settings = loaded.settings
    prompts = [
        build_prompt(context.tokenizer, item, shots, settings["apply_chat_template"])
        for item, shots in loaded.items
    ]
    outputs = generate_texts(
        context.model,
        context.tokenizer,
        prompts,
        settings["max_gen_toks"],
        context.batch_size,
        STOP,
        context.label,
        context.show_progress,
    )
    records = []
    for (item, _), output in zip(loaded.items, outputs):
        metrics, extracted = score(output, item)
        records.append(
            {
                "id": item.id,
                "prompt": item.text,
                "output": output,
                "target": item.answer.split("####")[-1].strip(),
                "extracted": extracted,
                "metrics": metrics,
            }
        )
    summary = summarize(records, METRICS, context.resamples)
    return benchmark_result(
        "exact_match,flexible-extract", summary, records, loaded.source, settings
    )


register(Benchmark("gsm8k", load, run))
