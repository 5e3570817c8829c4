"""Judges (`eval.judges`, metric `judge:NAME`): reading replies in each mode, the pairwise
both-orders rule, and real judging against `goaltune serve` through the `openai` client (cache,
unjudged replies, a dead port) and in-process on a local model, through a whole run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from goaltune.cli import app
from goaltune.config import EvalConfig, JudgeConfig, config_from_dict
from goaltune.errors import ConfigError
from goaltune.evaluate.judges import Judging, judge_records, probe_judges
from goaltune.evaluate.judges.cache import JudgmentCache
from goaltune.evaluate.judges.core import _judgment
from goaltune.evaluate.judges.prompts import (
    build_messages,
    pairwise_value,
    parse_reply,
    tuned_share,
)
from goaltune.run_folder import RunFolder, TaskResult
from tests.conftest import build_tiny_model, write_config
from tests.test_serve import free_port, start_server, stop_server

pytestmark = pytest.mark.usefixtures("one_torch_thread")
RUBRIC = "Warm, brief, signs off as Acme Care."


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("PASS", "pass"),
        ("  **fail**.\n", "fail"),
        ("The answer is warm and brief, so it should pass.", "pass"),
        ("Reasoning first.\nVerdict: FAIL", "fail"),
        ("It does not pass; FAIL", None),  # names both: ambiguous
        ("Maybe.", None),
        ("", None),
    ],
)
def test_pass_fail_replies(reply: str, verdict: str | None) -> None:
    assert parse_reply("pass_fail", reply) == verdict


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("4", "4"),
        ("5/5", "5"),
        ("**3**", "3"),
        ("Score: 2", "2"),
        ("It is clear.\nVerdict: 1", "1"),
        ("0", None),
        ("6", None),
        ("between 3 and 4", None),
        ("four", None),
    ],
)
def test_score_replies(reply: str, verdict: str | None) -> None:
    assert parse_reply("score_1_5", reply) == verdict


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("A", "A"),
        ("[[B]]", "B"),
        ("tie", "tie"),
        ("Both are fine.\nVerdict: TIE", "tie"),
        ("A good answer would be B", None),
        ("C", None),
    ],
)
def test_pairwise_replies(reply: str, verdict: str | None) -> None:
    assert parse_reply("pairwise", reply) == verdict


def test_pairwise_rule_over_both_orders() -> None:
    # order 1 shows (base, tuned): the tuned answer is B; order 2 shows (tuned, base)
    assert tuned_share("B", "B") == 1.0 and tuned_share("A", "B") == 0.0
    assert tuned_share("tie", "A") == 0.5
    assert pairwise_value(1.0, 1.0) == 1.0
    assert pairwise_value(1.0, 0.5) == 1.0  # won one order, tied the other
    assert pairwise_value(1.0, 0.0) == 0.5  # each won where it stood first/second: no preference
    assert pairwise_value(0.5, 0.5) == 0.5
    assert pairwise_value(0.0, 0.5) == 0.0
    pairwise = JudgeConfig(rubric=RUBRIC, model="m", mode="pairwise")
    # "B" then "A": the tuned answer won in both orders
    won = _judgment(pairwise, ["B", "Verdict: A"])
    assert won["value"] == 1.0 and won["parsed"] == ["tuned", "tuned"]
    # "A" then "A": the first position won each time: position bias, a tie
    biased = _judgment(pairwise, ["A", "A"])
    assert biased["value"] == 0.5 and biased["parsed"] == ["base", "tuned"]
    lost = _judgment(pairwise, ["A", "B"])
    assert lost["value"] == 0.0 and lost["parsed"] == ["base", "base"]
    half = _judgment(pairwise, ["B", "gibberish"])
    assert half["value"] is None and half["parsed"] == ["tuned", None]
    scored = _judgment(JudgeConfig(rubric=RUBRIC, model="m", mode="score_1_5"), ["4"])
    assert scored["value"] == 0.75 and scored["replies"] == ["4"]


def test_messages_hold_rubric_prompt_and_answers_in_order() -> None:
    (system, user) = build_messages("pairwise", RUBRIC, "Where is my order?", ("first", "second"))
    assert system["role"] == "system" and user["role"] == "user"
    text = user["content"]
    assert RUBRIC in text and "Where is my order?" in text
    assert text.index("[Answer A]\nfirst") < text.index("[Answer B]\nsecond")
    assert "A, B, TIE" in text
    assert "PASS or FAIL" in build_messages("pass_fail", RUBRIC, "p", ("a",))[1]["content"]


def test_config_adds_the_metric_and_names_bad_keys() -> None:
    config = EvalConfig(metrics=["exact_match"], judges={"voice": {"rubric": RUBRIC, "model": "m"}})
    assert config.metrics == ["exact_match", "judge:voice"]
    with pytest.raises(ValueError, match="metric judge:tone names no judge"):
        EvalConfig(metrics=["judge:tone"])
    with pytest.raises(ConfigError, match=r"eval\.judges\.voice.*model.*base_url"):
        config_from_dict({"eval": {"judges": {"voice": {"rubric": RUBRIC}}}}, "test.yaml")
    with pytest.raises(ConfigError, match=r"eval\.judges\.voice\.mode"):
        config_from_dict(
            {"eval": {"judges": {"voice": {"rubric": RUBRIC, "model": "m", "mode": "vote"}}}},
            "test.yaml",
        )


def records(n: int = 3) -> list[dict[str, Any]]:
    return [
        {"id": f"t{i}", "prompt": f"Question: {i}", "output": f"Answer: {i}", "metrics": {}}
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_and_tokenizer: Any) -> Path:
    folder = tmp_path_factory.mktemp("judge-model") / "tiny-judge"
    build_tiny_model(tiny_model_and_tokenizer[1]).save_pretrained(folder)
    tiny_model_and_tokenizer[1].save_pretrained(folder)
    return folder


@pytest.mark.integration  # a goaltune serve process
def test_endpoint_judge_caches_counts_unjudged_and_names_a_dead_url(
    model_dir: Path, tmp_path: Path
) -> None:
    from openai import OpenAI

    process, url = start_server(str(model_dir))
    options = {"base_url": url, "max_tokens": 6, "max_retries": 0, "timeout": 30}
    judges = {
        "voice": JudgeConfig(rubric=RUBRIC, mode="pass_fail", **options),
        "prefer": JudgeConfig(rubric=RUBRIC, mode="pairwise", **options),
    }
    wanted = [["voice", "prefer"]] * 3
    baseline = {f"t{i}": f"Base answer {i}" for i in range(3)}
    cache = JudgmentCache(tmp_path / "judgments")
    try:
        probe_judges(judges)
        first = records()
        summary = judge_records(first, wanted, judges, baseline, 8, cache)
        # a random tiny model answers garbage: every item unjudged, none scored 0
        assert summary["voice"]["requests"] == 3 and summary["voice"]["cached"] == 0
        assert summary["prefer"]["requests"] == 6  # both orders
        assert summary["voice"]["unjudged"] == 3 and summary["voice"]["judged"] == 0
        assert summary["voice"]["unjudged_ids"] == ["t0", "t1", "t2"]
        assert all(r["metrics"]["judge:voice"] is None for r in first)
        judgment = first[0]["judgments"]["voice"]
        assert judgment["parsed"] == [None] and judgment["value"] is None
        # the kept raw reply is what the server answers to that request
        messages = build_messages("pass_fail", RUBRIC, "Question: 0", ("Answer: 0",))
        direct = OpenAI(base_url=url, api_key="x").chat.completions.create(
            model="any", messages=messages, max_tokens=6
        )
        assert judgment["replies"] == [direct.choices[0].message.content]
        assert len(first[0]["judgments"]["prefer"]["replies"]) == 2
        again = records()
        summary = judge_records(again, wanted, judges, baseline, 8, cache)
        assert summary["voice"]["requests"] == 0 and summary["voice"]["cached"] == 3
        assert summary["prefer"]["requests"] == 0 and summary["prefer"]["cached"] == 6
        assert again == first
    finally:
        stop_server(process)
    # the server is gone: cached judgments still answer, so no request is sent
    cached = records()
    assert judge_records(cached, wanted, judges, baseline, 8, cache)["voice"]["cached"] == 3
    assert cached == first
    with pytest.raises(ConfigError, match=rf"{url}.*unreachable"):
        probe_judges(judges)
    with pytest.raises(ConfigError, match=rf"{url}.*unreachable"):  # a request not in the cache
        judge_records(records(4), [["voice"]] * 4, judges, baseline, 8, cache)


def test_local_judge_through_evaluate_task(
    model_dir: Path, tmp_path: Path, tiny_model_and_tokenizer: Any
) -> None:
    from goaltune.evaluate.task import evaluate_task

    model, tokenizer = tiny_model_and_tokenizer
    items = [
        {"id": f"t{i}", "messages": [{"role": "user", "content": f"Question: {i}"}]}
        for i in range(3)
    ]
    judges = {"voice": JudgeConfig(rubric=RUBRIC, model=str(model_dir), max_tokens=6)}
    metrics = ["contains", "judge:voice"]
    judging = Judging(judges, cache=JudgmentCache(tmp_path / "judgments"))
    task = evaluate_task(
        model, tokenizer, items, metrics, "t", 4, resamples=100, show_progress=False,
        judging=judging,
    )  # fmt: skip
    parsed = TaskResult.model_validate(task)
    assert parsed.judges is not None and parsed.judges["voice"].unjudged == 3
    assert parsed.judges["voice"].judge == f"local {model_dir}, max_tokens 6"
    assert task["metrics"]["judge:voice"] == {"score": None, "n": 0}
    assert task["metrics"]["contains"]["n"] == 3
    item = parsed.items[0]
    assert item.judgments is not None and item.judgments["voice"].replies[0]
    assert item.metrics["judge:voice"] is None


def run_config(tmp_path: Path, model_dir: Path, judges: dict[str, Any]) -> Path:
    path = write_config(tmp_path, model_dir)
    config = yaml.safe_load(path.read_text())
    config["eval"]["judges"] = judges
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_dead_endpoint_fails_before_training(tmp_path: Path, model_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    judges = {"voice": {"rubric": RUBRIC, "base_url": url, "max_retries": 0, "timeout": 5}}
    result = CliRunner().invoke(app, ["run", str(run_config(tmp_path, model_dir, judges))])
    assert result.exit_code == 2
    assert "eval.judges.voice.base_url" in result.output and url in result.output
    assert not (tmp_path / "runs").exists()  # failed before the run folder was made


@pytest.mark.integration
def test_a_run_with_a_pairwise_endpoint_judge_and_a_local_judge(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOALTUNE_CACHE", str(tmp_path / "cache"))
    process, url = start_server(str(model_dir))
    judges = {
        "prefer": {"rubric": RUBRIC, "base_url": url, "mode": "pairwise", "max_tokens": 6},
        "voice": {"rubric": RUBRIC, "model": str(model_dir), "max_tokens": 6},
    }
    try:
        config = run_config(tmp_path, model_dir, judges)
        result = CliRunner().invoke(app, ["run", str(config), "--quiet"])
    finally:
        stop_server(process)
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    folder = RunFolder(run_dir)
    before, after = folder.read_eval("before").task, folder.read_eval("after").task
    assert before is not None and after is not None
    # before: the base against itself, a tie without asking; after: both orders asked
    assert {i.metrics["judge:prefer"] for i in before.items} == {0.5}
    assert before.judges is not None and before.judges["prefer"].requests == 0
    assert after.judges is not None
    base = {i.id: i.output for i in before.items}
    changed = [i for i in after.items if i.output != base[i.id]]
    assert changed  # the adapter changed the answers, so the judge was asked
    assert after.judges["prefer"].requests == 2 * len(changed)
    assert after.judges["voice"].unjudged == len(after.items)
    saved = json.loads(folder.eval_path("after").read_text())
    assert "replies" in saved["task"]["items"][0]["judgments"]["voice"]
    assert folder.read_status().status == "finished"
    report = folder.report_md_path.read_text()
    assert (
        f"judge:voice after (pass_fail, local {model_dir}, max_tokens 6): 0 judged, 6 unjudged"
        in report
    )


def test_an_endpoint_judge_without_openai_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from goaltune import extras

    installed = extras._installed
    monkeypatch.setattr(
        extras, "_installed", lambda module: module != "openai" and installed(module)
    )
    judges = {"voice": JudgeConfig(rubric=RUBRIC, base_url="http://127.0.0.1:9/v1")}
    with pytest.raises(
        ConfigError, match=r"eval\.judges\.voice .*openai: pip install 'goaltune\[serve\]'"
    ):
        probe_judges(judges)
