"""Agreement with lm-evaluation-harness on the same items.

The harness's own task YAMLs are included by local task configs that only swap the dataset for
local JSON files (`dataset_path: json`), so the harness builds prompts and scores exactly as
for the Hub data. Fast tests compare the requests (contexts, continuations, gold, stop
sequences); slow tests run the embedded model through HFLM + simple_evaluate and compare
per-item predictions, log-likelihoods and aggregates with ours.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from goaltune.evaluate.benchmarks import load_benchmark, run_benchmarks
from goaltune.evaluate.benchmarks.data import BUILTIN_DATA
from goaltune.evaluate.benchmarks.gsm8k import STOP, build_prompt

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")
MMLU_SUBJECTS = ["global_facts", "high_school_mathematics"]  # short prompts: cheap on CPU
CUSTOM_ARC = [  # items we never ship, in the ai2_arc layout (numeric labels and 3 choices too)
    {
        "id": "own-1",
        "question": "Which tool is best for measuring the mass of a small rock?",
        "choices": {
            "text": ["a ruler", "a balance", "a thermometer", "a stopwatch"],
            "label": ["A", "B", "C", "D"],
        },
        "answerKey": "B",
    },
    {
        "id": "own-2",
        "question": "What happens to water when it freezes?",
        "choices": {
            "text": ["It becomes a gas.", "It becomes a solid.", "It disappears."],
            "label": ["1", "2", "3"],
        },
        "answerKey": "2",
    },
    {
        "id": "own-3",
        "question": "Which planet is closest to the Sun?",
        "choices": {"text": ["Mercury", "Venus", "Earth", "Mars"], "label": ["A", "B", "C", "D"]},
        "answerKey": "A",
    },
    {
        "id": "own-4",
        "question": "A student pushes a box across the floor. Which force slows the box?",
        "choices": {
            "text": ["magnetism", "friction", "gravity pulling sideways", "light"],
            "label": ["A", "B", "C", "D"],
        },
        "answerKey": "B",
    },
    {
        "id": "own-5",
        "question": "Which of these is a renewable energy source?",
        "choices": {
            "text": ["coal", "oil", "wind", "natural gas", "peat"],
            "label": ["A", "B", "C", "D", "E"],
        },
        "answerKey": "C",
    },
]
GSM_TRAIN = [
    {
        "question": f"Tom has {i} apples and buys {i + 2} more. How many apples does he have?",
        "answer": f"He has {i} + {i + 2} = <<{i}+{i + 2}={2 * i + 2}>>{2 * i + 2} apples.\n"
        f"#### {2 * i + 2}",
    }
    for i in range(1, 13)
]


def _lm_eval_tasks() -> Path:
    import lm_eval

    return Path(lm_eval.__file__).parent / "tasks"


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _mmlu_rows(subject: str) -> list[dict]:
    """The CSV records in the cais/mmlu layout the harness task expects."""
    with (SHARED / "mmlu" / f"{subject}_test.csv").open(encoding="utf-8", newline="") as handle:
        return [
            {"question": r[0], "subject": subject, "choices": r[1:5], "answer": "ABCD".index(r[5])}
            for r in csv.reader(handle)
        ]


def _task(folder: Path, name: str, include: str, data_files: dict[str, str], **extra: Any) -> None:
    config = {
        "include": str(_lm_eval_tasks() / include),
        "task": name,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": data_files},
        **extra,
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


@pytest.fixture(scope="module")
def harness_dir(tmp_path_factory) -> Path:
    """Local harness task configs plus our own data folder for the custom and GSM8K items."""
    root = tmp_path_factory.mktemp("harness")
    tasks, data = root / "tasks", root / "data"
    tasks.mkdir()
    arc_splits = {"training_split": None, "validation_split": None}
    for config in ("ARC-Easy", "ARC-Challenge"):
        task = config.lower().replace("-", "_")
        _task(
            tasks,
            f"h_{task}",
            f"arc/{task}.yaml",
            {"test": str(SHARED / "arc" / f"{config}-test.jsonl")},
            **arc_splits,
        )
    _task(
        tasks,
        "h_hellaswag",
        "hellaswag/hellaswag.yaml",
        {"validation": str(SHARED / "hellaswag" / "hellaswag_val.jsonl")},
        training_split=None,
    )
    for subject in MMLU_SUBJECTS:
        path = _write_jsonl(root / "mmlu" / f"{subject}.jsonl", _mmlu_rows(subject))
        _task(
            tasks,
            f"h_mmlu_{subject}",
            f"mmlu/default/mmlu_{subject}.yaml",
            {"test": str(path)},
            fewshot_split="test",
        )
    _task(
        tasks,
        "h_mc_mini",
        "arc/arc_easy.yaml",
        {"test": str(BUILTIN_DATA / "mc_mini.jsonl")},
        **arc_splits,
    )
    custom = _write_jsonl(data / "arc" / "ARC-Easy-test.jsonl", CUSTOM_ARC)
    _task(tasks, "h_custom_arc", "arc/arc_easy.yaml", {"test": str(custom)}, **arc_splits)
    gsm_test = data / "gsm8k" / "test.jsonl"
    gsm_test.parent.mkdir()
    shutil.copy(SHARED / "gsm8k" / "test.jsonl", gsm_test)
    gsm_train = _write_jsonl(root / "gsm8k_train.jsonl", GSM_TRAIN)
    _task(tasks, "h_gsm8k", "gsm8k/gsm8k.yaml", {"test": str(gsm_test), "train": str(gsm_train)})
    _task(
        tasks,
        "h_gsm8k_testpool",
        "gsm8k/gsm8k.yaml",
        {"test": str(gsm_test)},
        training_split=None,
        fewshot_split="test",
    )
    return root


def _harness_tasks(harness_dir: Path, names: list[str]) -> dict[str, Any]:
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(harness_dir / "tasks"), include_defaults=False)
    return manager.load(names)["tasks"]


def _requests_by_doc(task: Any, limit: int, **kwargs: Any) -> list[list[tuple]]:
    task.build_all_requests(limit=limit, rank=0, world_size=1, **kwargs)
    by_doc: dict[int, list] = defaultdict(list)
    for instance in sorted(task.instances, key=lambda i: (i.doc_id, i.idx)):
        by_doc[instance.doc_id].append(instance.args)
    return [by_doc[doc_id] for doc_id in sorted(by_doc)]


MC_CASES = [  # (our spec, data_dir key, harness task names)
    ("arc_easy", "shared", ["h_arc_easy"]),
    ("arc_challenge", "shared", ["h_arc_challenge"]),
    ("hellaswag", "shared", ["h_hellaswag"]),
    (f"mmlu:{','.join(MMLU_SUBJECTS)}", "shared", [f"h_mmlu_{s}" for s in MMLU_SUBJECTS]),
    ("builtin:mc-mini", "shared", ["h_mc_mini"]),
    ("arc_easy", "custom", ["h_custom_arc"]),
]


def _data_dir(key: str, harness_dir: Path) -> str:
    return str(SHARED if key == "shared" else harness_dir / "data")


@pytest.mark.parametrize(("spec", "data", "names"), MC_CASES)
def test_multiple_choice_requests_equal_the_harness(harness_dir, spec, data, names):
    limit = 30
    tasks = _harness_tasks(harness_dir, names)
    expected, gold = [], []
    for name in names:
        task = tasks[name]
        expected += _requests_by_doc(task, limit)
        gold += [task.doc_to_target(doc) for doc in list(task.eval_docs)[:limit]]
    items = load_benchmark(spec, _data_dir(data, harness_dir), limit).items
    assert [[(i.context, f" {c}") for c in i.choices] for i in items] == expected
    assert [i.gold for i in items] == gold


@pytest.mark.parametrize(
    ("shots", "chat", "task"),
    [
        (0, True, "h_gsm8k"),
        (0, False, "h_gsm8k"),
        (3, True, "h_gsm8k"),
        (5, False, "h_gsm8k"),
        (3, True, "h_gsm8k_testpool"),
    ],
)
def test_gsm8k_prompts_equal_the_harness(harness_dir, tiny_model_and_tokenizer, shots, chat, task):
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = tiny_model_and_tokenizer
    harness = _harness_tasks(harness_dir, [task])[task]
    harness.set_config("num_fewshot", shots)
    harness.set_fewshot_seed(1234)
    lm = HFLM(pretrained=model, tokenizer=tokenizer)
    expected = _requests_by_doc(
        harness,
        8,
        apply_chat_template=chat,
        fewshot_as_multiturn=True,
        chat_template=lm.apply_chat_template if chat else None,
    )
    data_dir = harness_dir / "data"
    train = data_dir / "gsm8k" / "train.jsonl"
    if task == "h_gsm8k":
        _write_jsonl(train, GSM_TRAIN)
    try:
        loaded = load_benchmark(
            f"gsm8k:num_fewshot={shots},apply_chat_template={chat}", str(data_dir), 8
        )
    finally:
        train.unlink(missing_ok=True)
    ours = [build_prompt(tokenizer, item, examples, chat) for item, examples in loaded.items]
    assert ours == [requests[0][0] for requests in expected]
    assert all(requests[0][1]["until"] == STOP for requests in expected)


# --- Slow: the embedded model through HFLM + simple_evaluate vs our engine ----------------


@pytest.fixture(scope="module")
def embedded():
    from goaltune.config import ModelConfig
    from goaltune.models import load_model_and_tokenizer

    return load_model_and_tokenizer(ModelConfig())


def _harness_run(
    model: Any, tokenizer: Any, harness_dir: Path, names: list[str], limit: int, **kwargs: Any
) -> dict:
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=16)
    manager = TaskManager(include_path=str(harness_dir / "tasks"), include_defaults=False)
    return simple_evaluate(
        model=lm,
        tasks=names,
        limit=limit,
        log_samples=True,
        bootstrap_iters=0,
        task_manager=manager,
        **kwargs,
    )


@pytest.fixture(scope="module")
def harness_runs() -> dict:
    """Harness results by task names, so both scoring paths compare with one harness run."""
    return {}


@pytest.mark.slow
@pytest.mark.parametrize("shared_context", [False, True], ids=["exact", "shared-context"])
@pytest.mark.parametrize(("spec", "data", "names"), MC_CASES)
def test_multiple_choice_scores_equal_the_harness(
    harness_dir, embedded, harness_runs, spec, data, names, shared_context
):
    """Same per-item scores as the harness. With shared_context off, the same batches as the
    harness (one run per benchmark), so log-likelihoods are bit-identical; with the packed
    default they agree up to floating-point rounding."""
    model, tokenizer = embedded
    limit = 12  # items per task
    key = tuple(names)
    if key not in harness_runs:
        harness_runs[key] = _harness_run(model, tokenizer, harness_dir, names, limit)
    harness = harness_runs[key]
    ours = run_benchmarks(
        model,
        tokenizer,
        [spec],
        _data_dir(data, harness_dir),
        limit,
        batch_size=16,
        show_progress=False,
        shared_context=shared_context,
    )[spec]
    samples = [s for n in names for s in sorted(harness["samples"][n], key=lambda s: s["doc_id"])]
    assert len(samples) == len(ours["items"])
    for item, sample in zip(ours["items"], samples):
        expected = [r[0][0] for r in sample["resps"]]
        if shared_context:
            assert item["loglikelihoods"] == pytest.approx(expected, abs=1e-3)
        else:
            assert item["loglikelihoods"] == expected
        for metric, value in item["metrics"].items():
            assert value == sample[metric], (item["id"], metric)
    for metric in ("acc", "acc_norm"):
        if metric in ours["metrics"]:
            values = [s[metric] for s in samples]
            assert ours["metrics"][metric]["score"] == pytest.approx(sum(values) / len(values))
            assert ours["metrics"][metric]["n"] == len(values)
    print(spec, json.dumps({m: round(s["score"], 4) for m, s in ours["metrics"].items()}))


@pytest.mark.slow
def test_gsm8k_generations_equal_the_harness(harness_dir, embedded):
    """Chat-template zero-shot generation: same outputs and scores as the harness."""
    model, tokenizer = embedded
    limit, tokens = 4, 48
    harness = _harness_run(
        model,
        tokenizer,
        harness_dir,
        ["h_gsm8k"],
        limit,
        num_fewshot=0,
        apply_chat_template=True,
        gen_kwargs={"max_gen_toks": tokens},
    )
    spec = f"gsm8k:max_gen_toks={tokens}"
    ours = run_benchmarks(
        model, tokenizer, [spec], str(harness_dir / "data"), limit, show_progress=False
    )[spec]
    samples = defaultdict(dict)
    for sample in harness["samples"]["h_gsm8k"]:
        samples[sample["doc_id"]][sample["filter"]] = sample
    for doc_id, item in enumerate(ours["items"]):
        by_filter = samples[doc_id]
        assert item["output"] == by_filter["strict-match"]["resps"][0][0]
        for name, sample in by_filter.items():
            assert item["extracted"][name] == sample["filtered_resps"][0]
            assert item["metrics"][f"exact_match,{name}"] == sample["exact_match"]
