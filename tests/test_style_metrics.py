"""Style checks: each passes and fails on plain strings, explains failures, validates arguments."""

from __future__ import annotations

from typing import Any

import pytest

from goaltune.config import config_from_dict
from goaltune.data.builtin import brand_voice
from goaltune.errors import ConfigError, DataError
from goaltune.evaluate.metrics import item_details, score_output
from goaltune.evaluate.task import with_style

FENCED = "Run this:\n```python\nprint(1)\n```\nDone."
# (check, value, a passing answer, a failing answer)
CASES: list[tuple[str, Any, str, str]] = [
    ("starts_with", "Hi Ana,", "  Hi Ana, all set.", "Hello Ana, all set."),
    ("ends_with", "- Acme Care", "Done.\n\n- Acme Care\n", "Done. Acme Care."),
    ("contains_all", ["refund", "Friday"], "Your REFUND is due friday.", "Your refund is due."),
    ("contains_any", ["refund", "credit"], "A credit is on its way.", "Money is on its way."),
    ("forbidden_words", ["sorry", "so-called"], "Sorrynot is one word.", "We are SORRY, truly."),
    ("forbidden_words", "so-called", "The called-in team.", "Our so-called fix."),
    ("max_words", 5, "One two three four five.", "One two three four five six."),
    ("min_words", 3, "Three words here.", "Two words."),
    ("max_sentences", 2, "One. Two.", "One. Two. Three."),
    ("max_sentences", 2, "Hi Ana,\nAll set.", "Hi Ana,\nAll set.\n- Acme Care"),
    ("max_sentence_words", 4, "Short one. Also short here.", "Short. This one is far too long."),
    ("no_exclamation", None, "Calm and clear.", "Great news!"),
    ("reading_grade_max", 6, "The cat sat. The dog ran.", "Notwithstanding comprehensive "
     "considerations, institutional reimbursement necessitates extraordinary documentation."),
    ("language", "en", "Your parcel leaves our warehouse today and arrives on Friday.",
     "Votre colis quitte notre entrepôt aujourd'hui et arrive vendredi."),
    ("language", "en", "Your parcel leaves the warehouse today.", "12345 !!!"),
    ("bullet_list", 2, "Steps:\n- one\n* two", "Steps:\n- one\nand two"),
    ("bullet_list", None, "1. first", "no list at all"),
    ("markdown_headers", None, "# Title\ntext", "#NoSpace\ntext"),
    ("code_fence", None, FENCED, "```python\nprint(1)"),
    ("code_fence", "python", FENCED, "```bash\nls\n```"),
    ("case", "lower", "all lower case, 42.", "Not all lower."),
    ("case", "upper", "ALL UPPER, 42.", "ALL UPPEr."),
    ("case", "title", "Every Word Capitalised, 42.", "Every word Capitalised."),
]  # fmt: skip


def scored(output: str, checks: list[dict[str, Any]], **fields: Any) -> tuple[dict, list[str]]:
    item = {"id": "t", **fields, "style_checks": checks}
    values = score_output(output, item, ["style_pass"])
    return values, item_details(output, item, ["style_pass"])["style_failed"]


@pytest.mark.parametrize(("check", "value", "passing", "failing"), CASES)
def test_each_check_passes_and_fails(check: str, value: Any, passing: str, failing: str) -> None:
    checks = [{"check": check, "value": value}]
    values, failed = scored(passing, checks)
    assert values == {f"style:{check}": 1.0, "style_pass": 1.0}
    assert failed == []
    values, failed = scored(failing, checks)
    assert values == {f"style:{check}": 0.0, "style_pass": 0.0}
    assert len(failed) == 1 and failed[0].startswith(f"{check}: ")


def test_failures_explain_themselves() -> None:
    checks = [
        {"check": "starts_with", "value": "Hi {name},"},
        {"check": "forbidden_words", "value": ["sorry", "unfortunately"]},
        {"check": "max_words", "value": 4},
        {"check": "no_exclamation"},
    ]
    values, failed = scored("Dear Ana, we are sorry for the delay!", checks, name="Ana")
    assert values["style_pass"] == 0.0
    assert failed == [
        "starts_with: starts 'Dear Ana, we are sorry for', not 'Hi Ana,'",
        "forbidden_words: uses 'sorry'",
        "max_words: 8 words > 4",
        "no_exclamation: 1 exclamation mark",
    ]


def test_two_checks_of_one_kind_share_the_metric_and_both_must_pass() -> None:
    checks = [
        {"check": "contains_any", "value": ["refund"]},
        {"check": "contains_any", "value": ["Friday"]},
    ]
    assert scored("A refund on Friday.", checks)[0]["style:contains_any"] == 1.0
    values, failed = scored("A refund soon.", checks)
    assert values["style:contains_any"] == 0.0
    assert failed == ["contains_any: none of 'Friday'"]


def test_fields_are_filled_from_the_item() -> None:
    checks = [
        {"check": "starts_with", "value": "Hi {name},"},
        {"check": "contains_all", "value": ["{order}", "order"]},
    ]
    assert scored("Hi Ana, order #12 ships.", checks, name="Ana", order="#12")[0]["style_pass"]
    assert not scored("Hi Ben, order #12 ships.", checks, name="Ana", order="#12")[0]["style_pass"]
    with pytest.raises(DataError, match="item t: style check starts_with needs the field 'name'"):
        scored("Hi Ana,", checks, order="#12")


def test_config_checks_apply_unless_the_item_brings_its_own() -> None:
    config = [{"check": "no_exclamation", "value": None}]
    own = [{"check": "max_words", "value": 1}]
    assert with_style({"id": "a"}, config)["style_checks"] == config
    assert with_style({"id": "a", "style_checks": own}, config)["style_checks"] == own
    assert "style_checks" not in with_style({"id": "a"}, [])


def test_style_pass_without_checks_or_with_a_bad_item_check_is_a_data_error() -> None:
    with pytest.raises(DataError, match="metric style_pass needs style checks"):
        score_output("x", {"id": "t"}, ["style_pass"])
    with pytest.raises(DataError, match=r"style_checks\[0\]\.value: max_words needs a whole"):
        scored("x", [{"check": "max_words", "value": "ten"}])
    with pytest.raises(DataError, match=r"style_checks\[0\]\.check: unknown style check"):
        scored("x", [{"check": "shout"}])


def test_eval_style_is_validated_and_adds_style_pass() -> None:
    config = config_from_dict(
        {
            "eval": {
                "metrics": ["rouge_l"],
                "style": [
                    {"check": "forbidden_words", "value": "sorry"},
                    {"check": "case", "value": "lower"},
                ],
            },
            "goal": {"task_metrics": [{"name": "style_pass", "target": 0.9}]},
        }
    )
    assert config.eval.metrics == ["rouge_l", "style_pass"]
    assert config.eval.style[0].value == ["sorry"]


@pytest.mark.parametrize(
    ("check", "value", "needs"),
    [
        ("max_words", "ten", "max_words needs a whole number >= 1"),
        ("max_sentence_words", 0, "max_sentence_words needs a whole number >= 1"),
        ("starts_with", None, "starts_with needs a non-empty string"),
        ("forbidden_words", [], "forbidden_words needs a string or a non-empty list"),
        ("no_exclamation", False, "no_exclamation takes no value"),
        ("reading_grade_max", True, "reading_grade_max needs a positive number"),
        ("language", "english", "language needs a langdetect code"),
        ("case", "camel", "case needs one of lower, upper, title"),
        ("code_fence", 3, "code_fence needs a non-empty string"),
    ],
)
def test_a_bad_check_argument_is_a_config_error_naming_the_key_path(
    check: str, value: Any, needs: str
) -> None:
    style = [{"check": "no_exclamation"}, {"check": "max_words", "value": 80}]
    style.append({"check": check, "value": value})
    with pytest.raises(ConfigError, match=rf"eval\.style\[2\]\.value: {needs}"):
        config_from_dict({"eval": {"style": style}})


def test_an_unknown_check_is_a_config_error_naming_the_key_path() -> None:
    with pytest.raises(ConfigError, match=r"eval\.style\[0\]\.check: unknown style check 'loud'"):
        config_from_dict({"eval": {"style": [{"check": "loud"}]}})


BRAND_STYLE = [
    {"check": "starts_with", "value": "Hi {name},"},
    {"check": "ends_with", "value": "- Acme Care"},
    {"check": "forbidden_words", "value": ["sorry", "apologize", "unfortunately", "inconvenience"]},
    {"check": "max_sentence_words", "value": 14},
    {"check": "no_exclamation"},
    {"check": "max_words", "value": 60},
    {"check": "language", "value": "en"},
]


def test_brand_voice_is_deterministic_with_disjoint_splits() -> None:
    assert brand_voice.generate_train() == brand_voice.generate_train()
    assert brand_voice.generate_test() == brand_voice.generate_test()
    train = {e["messages"][0]["content"] for e in brand_voice.generate_train()}
    test = brand_voice.generate_test()
    assert len(test) == 100 and not train & {t["messages"][0]["content"] for t in test}
    train_names = {e["messages"][1]["content"].split(",")[0] for e in brand_voice.generate_train()}
    assert not train_names & {f"Hi {t['name']}" for t in test}


def test_brand_voice_references_pass_and_a_generic_reply_fails() -> None:
    test = brand_voice.generate_test()
    generic = "Dear customer, we are sorry for the inconvenience! We will look into it soon."
    for item in test:
        scored_item = with_style(item, BRAND_STYLE)
        assert score_output(item["reference"], scored_item, ["style_pass"])["style_pass"] == 1.0
        assert score_output(generic, scored_item, ["style_pass"])["style_pass"] == 0.0


def test_the_example_config_checks_pass_on_the_references() -> None:
    from pathlib import Path

    from goaltune.config import load_config

    config = load_config(Path(__file__).resolve().parents[1] / "examples" / "brand-voice.yaml")
    style = [check.model_dump() for check in config.eval.style]
    assert config.data.train == "builtin:brand-voice" and style
    for item in brand_voice.generate_test():
        assert score_output(item["reference"], with_style(item, style), ["style_pass"]) == {
            **{f"style:{c['check']}": 1.0 for c in style},
            "style_pass": 1.0,
        }


def test_style_metrics_flow_through_the_task_section_to_the_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from goaltune.config import GoalConfig
    from goaltune.evaluate import task
    from goaltune.verdict import build_verdict

    items = brand_voice.generate_test(n=20)
    style = [{"check": "starts_with", "value": "Hi {name},"}, *BRAND_STYLE[1:]]
    monkeypatch.setattr(task, "render_prompts", lambda tokenizer, chats: [""] * len(chats))

    def evaluate(outputs: list[str]) -> dict[str, Any]:
        monkeypatch.setattr(task, "generate_texts", lambda *args, **kwargs: outputs)
        return task.evaluate_task(None, None, items, ["style_pass", "rouge_l"], "t", style=style)

    generic = "Dear customer, we are sorry for the inconvenience! We will look into it."
    before = evaluate([generic] * len(items))
    after = evaluate([item["reference"] for item in items])
    assert before["metrics"]["style_pass"]["score"] == 0.0
    assert after["metrics"]["style_pass"]["score"] == 1.0
    assert {"style:ends_with", "style:no_exclamation", "rouge_l"} <= set(after["metrics"])
    assert (
        "ends_with: ends 'venience! We will look into it.', not '- Acme Care'"
        in (before["items"][0]["style_failed"])
    )
    assert after["items"][0]["style_failed"] == []
    goal = GoalConfig(task_metrics=[{"name": "style_pass", "target": 0.9}])
    verdict = build_verdict(goal, {"task": before}, {"task": after}, resamples=200)
    (delta,) = verdict.deltas
    assert (delta.name, delta.target_reached) == ("style_pass", True)
    assert delta.delta_points == pytest.approx(100.0)


def test_the_report_shows_which_checks_failed_before_and_after() -> None:
    from goaltune.report.content import _item_change
    from goaltune.run_folder import ScoredItem

    checks = [{"check": "no_exclamation"}, {"check": "ends_with", "value": "- Acme Care"}]
    item = with_style({"id": "t1", "prompt": "Where is my parcel?"}, checks)
    sides = []
    for output in ("On its way!", "On its way.\n- Acme Care"):
        metrics = dict(score_output(output, item, ["style_pass"]))
        details = item_details(output, item, ["style_pass"])
        sides.append(ScoredItem(id="t1", output=output, metrics=metrics, **details))
    change = _item_change(sides[0], sides[1])
    assert change is not None and change.change.text == "improved"
    assert change.metrics.headers[-1] == "failed style checks"
    before_row, after_row = change.metrics.rows
    assert "no_exclamation" in str(before_row[-1]) and "ends_with" in str(before_row[-1])
    assert after_row[-1] == "none"
