"""run_benchmarks end to end on a tiny model: result layout, metrics, and lm_eval:TASK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from goaltune.errors import BenchmarkError
from goaltune.evaluate.benchmarks import run_benchmarks
from goaltune.evaluate.benchmarks.ifeval import IfevalItem
from goaltune.evaluate.benchmarks.ifeval import score as ifeval_score

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")
SUMMARY_KEYS = {"score", "n", "ci_low", "ci_high"}


def _check_layout(result: dict, primary: str, metrics: set[str], count: int) -> None:
    assert result["primary_metric"] == primary
    assert set(result["metrics"]) == metrics
    assert all(set(s) == SUMMARY_KEYS for s in result["metrics"].values())
    assert len(result["items"]) == count and result["source"]
    for item in result["items"]:
        assert {"id", "prompt", "output", "target", "metrics"} <= set(item)
        assert all(v in (0.0, 1.0) for v in item["metrics"].values())
    assert len({item["id"] for item in result["items"]}) == count
    json.dumps(result)


@needs_shared
def test_run_benchmarks_layout(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    names = [
        "arc_easy",
        "hellaswag",
        "mmlu:global_facts",
        "college_medicine",
        "gsm8k:max_gen_toks=4",
        "ifeval:max_gen_toks=4",
    ]
    results = run_benchmarks(
        model,
        tokenizer,
        names,
        str(SHARED),
        limit=3,
        batch_size=4,
        resamples=200,
        show_progress=False,
    )
    assert list(results) == [
        "arc_easy",
        "hellaswag",
        "mmlu:global_facts,college_medicine",
        "gsm8k:max_gen_toks=4",
        "ifeval:max_gen_toks=4",
    ]
    _check_layout(results["arc_easy"], "acc", {"acc", "acc_norm"}, 3)
    _check_layout(results["hellaswag"], "acc_norm", {"acc", "acc_norm"}, 3)
    mmlu = results["mmlu:global_facts,college_medicine"]
    _check_layout(mmlu, "acc", {"acc", "acc_macro", "acc:global_facts", "acc:college_medicine"}, 6)
    assert mmlu["metrics"]["acc:global_facts"]["n"] == 3
    assert mmlu["metrics"]["acc_macro"]["score"] == pytest.approx(
        (
            mmlu["metrics"]["acc:global_facts"]["score"]
            + mmlu["metrics"]["acc:college_medicine"]["score"]
        )
        / 2
    )
    gsm = results["gsm8k:max_gen_toks=4"]
    _check_layout(
        gsm,
        "exact_match,flexible-extract",
        {"exact_match,strict-match", "exact_match,flexible-extract"},
        3,
    )
    assert gsm["settings"] == {"num_fewshot": 0, "apply_chat_template": True, "max_gen_toks": 4}
    ifeval = results["ifeval:max_gen_toks=4"]
    _check_layout(
        ifeval,
        "prompt_level_strict_acc",
        {
            "prompt_level_strict_acc",
            "inst_level_strict_acc",
            "prompt_level_loose_acc",
            "inst_level_loose_acc",
        },
        3,
    )
    instructions = sum(len(item["instructions"]) for item in ifeval["items"])
    assert ifeval["metrics"]["inst_level_strict_acc"]["n"] == instructions


def test_builtin_suites_run(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    results = run_benchmarks(
        model,
        tokenizer,
        ["builtin:mc-mini", "builtin:ifeval-mini:max_gen_toks=4"],
        limit=2,
        resamples=200,
        show_progress=False,
    )
    mc = results["builtin:mc-mini"]
    _check_layout(mc, "acc", {"acc", "acc_norm"}, 2)
    assert mc["items"][0]["output"] in "ABCD" and mc["items"][0]["subject"]
    assert len(mc["items"][0]["loglikelihoods"]) == 4
    _check_layout(
        results["builtin:ifeval-mini:max_gen_toks=4"],
        "prompt_level_strict_acc",
        {
            "prompt_level_strict_acc",
            "inst_level_strict_acc",
            "prompt_level_loose_acc",
            "inst_level_loose_acc",
        },
        2,
    )


def test_unknown_names_fail_before_the_model_runs(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    with pytest.raises(BenchmarkError, match="unknown benchmark 'nope'"):
        run_benchmarks(model, tokenizer, ["builtin:mc-mini", "nope"], show_progress=False)


def test_ifeval_scoring_is_deterministic():
    """A letter_frequency instruction with letter "!" makes lm-eval draw a random letter."""
    item = IfevalItem(
        1,
        "p",
        ["keywords:letter_frequency"],
        [{"let_relation": "at least", "letter": "!", "let_frequency": 3}],
    )
    response = "aaa bbb ccc ddd eee fff ggg hhh iii jjj kkk lll mmm nnn ooo ppp"
    verdicts = {
        ifeval_score(item, response)["metrics"]["prompt_level_strict_acc"] for _ in range(20)
    }
    assert len(verdicts) == 1


def _arc_task_dir(tmp_path: Path) -> Path:
    """A data_dir holding a harness task config over local ARC-layout rows."""
    import lm_eval

    rows = [
        {
            "id": f"t{i}",
            "question": f"Which {w} is right?",
            "choices": {"text": ["the fox", "the dog", "eggs"], "label": ["A", "B", "C"]},
            "answerKey": "ABC"[i % 3],
        }
        for i, w in enumerate(["word", "answer", "choice", "one"])
    ]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    include = Path(lm_eval.__file__).parent / "tasks" / "arc" / "arc_easy.yaml"
    config = {
        "include": str(include),
        "task": "tiny_arc",
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "training_split": None,
        "validation_split": None,
    }
    (tmp_path / "tiny_arc.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return tmp_path


def test_lm_eval_task_runs_the_model_passed(tmp_path, tiny_model_and_tokenizer):
    from peft import LoraConfig, get_peft_model

    from tests.conftest import build_tiny_model

    _, tokenizer = tiny_model_and_tokenizer
    data_dir = str(_arc_task_dir(tmp_path))
    kwargs = {
        "names": ["lm_eval:tiny_arc"],
        "data_dir": data_dir,
        "resamples": 200,
        "show_progress": False,
    }
    base = run_benchmarks(build_tiny_model(tokenizer), tokenizer, **kwargs)["lm_eval:tiny_arc"]
    _check_layout(base, "acc,none", {"acc,none", "acc_norm,none"}, 4)
    assert base["harness_results"]["acc,none"] == base["metrics"]["acc,none"]["score"]
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    lora = get_peft_model(build_tiny_model(tokenizer), config).eval()
    adapted = run_benchmarks(lora, tokenizer, **kwargs)["lm_eval:tiny_arc"]
    assert [i["loglikelihoods"] for i in adapted["items"]] != [
        i["loglikelihoods"] for i in base["items"]
    ]


def test_lm_eval_task_flattens_instruction_level_metrics(tmp_path, tiny_model_and_tokenizer):
    import lm_eval

    model, tokenizer = tiny_model_and_tokenizer
    rows = [
        {
            "key": 1,
            "prompt": "Say hi.",
            "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"],
            "kwargs": [{}, {}],
        },
        {
            "key": 2,
            "prompt": "Say bye.",
            "instruction_id_list": ["punctuation:no_comma"],
            "kwargs": [{}],
        },
    ]
    data = tmp_path / "ifeval.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    include = Path(lm_eval.__file__).parent / "tasks" / "ifeval" / "ifeval.yaml"
    config = {
        "include": str(include),
        "task": "tiny_ifeval",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"train": str(data)}},
        "generation_kwargs": {"until": [], "do_sample": False, "max_gen_toks": 4},
    }
    (tmp_path / "tiny_ifeval.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = run_benchmarks(
        model,
        tokenizer,
        ["lm_eval:tiny_ifeval"],
        data_dir=str(tmp_path),
        resamples=200,
        show_progress=False,
    )["lm_eval:tiny_ifeval"]
    inst = result["metrics"]["inst_level_loose_acc,none"]
    assert inst["n"] == 3
    assert inst["score"] == result["harness_results"]["inst_level_loose_acc,none"]
    assert result["items"][0]["metric_lists"]["inst_level_loose_acc,none"] in (
        [0.0, 0.0],
        [0.0, 1.0],
        [1.0, 0.0],
        [1.0, 1.0],
    )


@pytest.mark.slow
def test_unknown_lm_eval_task(tiny_model_and_tokenizer):
    """Slow only because lm-eval indexes its ~15k built-in task configs first."""
    model, tokenizer = tiny_model_and_tokenizer
    with pytest.raises(BenchmarkError, match="unknown lm-evaluation-harness task"):
        run_benchmarks(model, tokenizer, ["lm_eval:no_such_task_xyz"])
