"""The data audit: planted test items and benchmark items are found, and the verdict heeds them."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from goaltune.audit import audit_data
from goaltune.audit.contamination import check_benchmark, train_ngrams
from goaltune.audit.core import audit_run
from goaltune.cli import app
from goaltune.config import RunConfig, dump_config
from goaltune.data import load_task_items, prepare_training_data
from goaltune.run_folder import AuditRecord, RunFolder
from goaltune.run_folder.schema import LeakCounts
from goaltune.verdict import SUCCESS, verdict_for_run
from tests.conftest import build_tiny_tokenizer, write_config

# a task of its own kind: turn a shipping note into a customs declaration line
GOODS = ["ceramic vases", "wool scarves", "bicycle pumps", "tea kettles", "oak stools", "kites"]
PLACES = ["Porto", "Tallinn", "Osaka", "Quito", "Dakar", "Perth", "Lima", "Bergen", "Hanoi"]
CARRIERS = ["by sea freight", "by air", "by rail", "by road", "with a courier"]
WORDS = ["fragile", "urgent", "insured", "boxed", "palletised", "sealed", "labelled", "stacked"]


def shipping_note(rng: random.Random) -> tuple[str, str]:
    goods, count, weight = rng.choice(GOODS), rng.randint(2, 900), rng.randint(1, 4000)
    origin, destination = rng.sample(PLACES, 2)
    extra = " and ".join(rng.sample(WORDS, 2))
    code = f"{rng.choice('ABCDEFGHJK')}{rng.choice('LMNPRSTVWX')}-{rng.randint(1000, 9999)}"
    prompt = (
        f"Declare shipment {code}: {count} {goods} weighing {weight} kg leave {origin} for "
        f"{destination} {rng.choice(CARRIERS)}, {extra}. Give the customs line."
    )
    return prompt, f"{count} x {goods} | {weight} kg | {origin} -> {destination}"


def edit_lightly(prompt: str, kind: int, rng: random.Random) -> str:
    """One light edit: a word changed, punctuation changed, case changed, or two of them."""
    words = prompt.split()
    if kind % 4 in (0, 3):
        spot = rng.randrange(2, len(words) - 2)
        words[spot] = rng.choice(["several", "some", "many", "boxed", "new"])
    text = " ".join(words)
    if kind % 4 in (1, 3):
        text = text.replace(",", ";").replace(".", "!").replace(":", " -")
    if kind % 4 == 2:
        text = text.upper() if kind % 8 == 2 else text.title()
    return text


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return build_tiny_tokenizer()


def audit_files(
    tmp_path: Path, tokenizer: Any, train: list[dict], test: list[dict], **config: Any
) -> AuditRecord:
    settings = {
        "data": {
            "train": str(write_jsonl(tmp_path / "train.jsonl", train)),
            "test": str(write_jsonl(tmp_path / "test.jsonl", test)),
            "validation_split": 0.0,
        },
        **config,
    }
    run = RunConfig.model_validate(settings)
    data = prepare_training_data(run.data, run.train, tokenizer)
    return audit_data(run, tokenizer, data, load_task_items(run.data, data.validation_examples))


def planted_task(rng: random.Random) -> tuple[list[dict], list[dict], set[str], set[str]]:
    """120 training notes and 60 test notes; 10 test notes copied verbatim into training (with
    whitespace and case as the only change for some), 20 copied with a light edit."""
    notes = [shipping_note(rng) for _ in range(180)]
    train = [{"prompt": p, "completion": c} for p, c in notes[:120]]
    test = [
        {"id": f"t{i:02d}", "prompt": p, "completion": c} for i, (p, c) in enumerate(notes[120:])
    ]
    verbatim = {f"t{i:02d}" for i in range(10)}
    edited = {f"t{i:02d}" for i in range(10, 30)}
    for i, row in enumerate(test[:10]):
        prompt = row["prompt"] if i % 2 else "  " + row["prompt"].lower().replace(" ", "  ")
        train.append({"prompt": prompt, "completion": f"{row['completion']} (copied)"})
    for i, row in enumerate(test[10:30]):
        train.append({"prompt": edit_lightly(row["prompt"], i, rng), "completion": "edited copy"})
    rng.shuffle(train)
    return train, test, verbatim, edited


def test_planted_test_items_are_found_verbatim_all_and_edited_mostly(
    tmp_path: Path, tokenizer: Any
) -> None:
    train, test, verbatim, edited = planted_task(random.Random(7))
    record = audit_files(tmp_path, tokenizer, train, test)
    leak = record.test_in_train
    assert leak is not None and leak.checked == 60
    kinds = {match.id: match.kind for match in leak.matches}
    # a case-only edit is an exact match too: exact compares with case and whitespace normalised
    assert verbatim <= {i for i, kind in kinds.items() if kind == "exact"}
    found_edited = len(edited & set(leak.items)) / len(edited)
    print(f"verbatim found {len(verbatim & set(leak.items))}/10, edited found {found_edited:.0%}")
    assert found_edited >= 0.8
    assert set(leak.items) <= verbatim | edited  # no clean item is called leaked
    assert leak.exact + leak.near + leak.reference == len(leak.items)
    assert any("test items are in the training data" in w for w in record.warnings)


def test_clean_data_has_no_leaks_and_duplicates_are_counted(tmp_path: Path, tokenizer: Any) -> None:
    rng = random.Random(3)
    notes = [shipping_note(rng) for _ in range(90)]
    train = [{"prompt": p, "completion": c} for p, c in notes[:60]]
    train += [dict(train[0]), dict(train[1]), {**train[2], "completion": "other answer"}]
    test = [{"prompt": p, "completion": c} for p, c in notes[60:]]
    record = audit_files(tmp_path, tokenizer, train, test)
    assert record.test_in_train is not None and record.test_in_train.items == []
    assert record.train_duplicates is not None
    assert (record.train_duplicates.exact, record.train_duplicates.near) == (2, 1)
    assert record.lengths is not None and record.lengths.count == 63
    assert record.lengths.min is not None and record.lengths.min <= record.lengths.max  # type: ignore[operator]
    assert record.references is not None and record.references.most_common_share < 0.1


def test_identical_long_references_count_but_short_labels_do_not(
    tmp_path: Path, tokenizer: Any
) -> None:
    train = [
        {
            "prompt": "Summarise the first report about the harbour.",
            "completion": "The harbour reopened after the storm and the ferries run again.",
        },
        {"prompt": "Is this review happy? 'Lovely stay.'", "completion": "yes"},
    ]
    test = [
        {
            "id": "long",
            "prompt": "What did the second note say?",
            "completion": "The harbour reopened after the storm and the ferries run again.",
        },
        {
            "id": "label",
            "prompt": "Is this review happy? 'Cold rooms, rude staff.'",
            "completion": "yes",
        },
    ]
    leak = audit_files(tmp_path, tokenizer, train, test).test_in_train
    assert leak is not None and leak.items == ["long"] and leak.reference == 1
    # a domain goal asks training's facts again in other words: the same answer is not a leak,
    # unless audit.reference_leaks says it is; the same prompt always is
    test.append({"id": "asked", "prompt": train[0]["prompt"], "completion": "The harbour."})
    for settings, expected in (
        ({"goal": {"purpose": "domain"}}, ["asked"]),
        ({"goal": {"purpose": "domain"}, "audit": {"reference_leaks": True}}, ["long", "asked"]),
        ({"audit": {"reference_leaks": False}}, ["asked"]),
    ):
        record = audit_files(tmp_path, tokenizer, train, test, **settings)
        assert record.test_in_train is not None and record.test_in_train.items == expected
        assert record.settings["reference_leaks"] == ("long" in expected)


def test_planted_benchmark_items_are_contamination_of_that_benchmark(
    tmp_path: Path, tokenizer: Any
) -> None:
    from goaltune.evaluate.benchmarks import load_benchmark

    mc = load_benchmark("builtin:mc-mini").items
    ifeval = load_benchmark("builtin:ifeval-mini").items
    rng = random.Random(5)
    train = [{"prompt": p, "completion": c} for p, c in (shipping_note(rng) for _ in range(40))]
    planted_mc = mc[3:9]
    planted_ifeval = ifeval[10:14]
    for item in planted_mc:  # the question as a prompt, the gold choice as the answer
        question = item.context.removeprefix("Question: ").removesuffix("\nAnswer:")
        train.append({"prompt": question, "completion": item.choices[item.gold]})
    for item in planted_ifeval:
        train.append({"prompt": f"Please help. {item.prompt}", "completion": "Sure."})
    test = [{"prompt": "Declare this: 3 kites.", "completion": "3 x kites"}]
    benchmarks = {"eval": {"benchmarks": ["builtin:mc-mini", "builtin:ifeval-mini"]}}
    record = audit_files(tmp_path, tokenizer, train, test, **benchmarks)
    found_mc = record.contamination["builtin:mc-mini"]
    found_ifeval = record.contamination["builtin:ifeval-mini"]
    assert set(found_mc.items) == {item.id for item in planted_mc}
    assert set(found_ifeval.items) == {str(item.key) for item in planted_ifeval}
    assert found_mc.checked == len(mc) and found_mc.skipped is None
    assert any(w.startswith("builtin:mc-mini: 6 of") for w in record.warnings)


def test_a_benchmark_without_listed_items_is_skipped_with_the_reason() -> None:
    result = check_benchmark("lm_eval:arc_easy", [], train_ngrams([], 13))
    assert result.checked == 0 and result.skipped and "without running a model" in result.skipped
    unreadable = check_benchmark("odd", [object()], train_ngrams([], 13))
    assert unreadable.skipped and "object" in unreadable.skipped


# ---------------------------------------------------------------- the verdict


def judged_run(tmp_path: Path, after_right: set[int], leaked: list[str] | None) -> Path:
    """A finished run of 40 task items, all wrong before; `after_right` are right after."""
    run = tmp_path / "run"
    folder = RunFolder(run)
    (run / "eval").mkdir(parents=True)
    config = RunConfig.model_validate({"goal": {"task_metrics": ["exact_match"]}})
    folder.write_config_text(dump_config(config))
    folder.set_status("finished")
    for side in ("before", "after"):
        items = [
            {
                "id": f"item-{i:04d}",
                "metrics": {"exact_match": float(side == "after" and i in after_right)},
            }
            for i in range(40)
        ]
        score = sum(item["metrics"]["exact_match"] for item in items) / 40
        task = {"metrics": {"exact_match": {"score": score, "n": 40}}, "items": items}
        folder.write_eval(side, {"task": task})
    if leaked is not None:
        leak = LeakCounts(checked=40, exact=len(leaked), items=leaked)
        folder.write_audit(AuditRecord(test_in_train=leak))
    return run


def test_a_success_resting_on_leaked_items_is_a_caution(tmp_path: Path) -> None:
    leaked = [f"item-{i:04d}" for i in range(16)]
    verdict = verdict_for_run(judged_run(tmp_path, set(range(16)), leaked))
    assert verdict.verdict == SUCCESS and verdict.caution
    assert "caution: 16 of 40 task items (40.0%) are in the training data" in verdict.headline
    assert any(
        r.startswith("On the 24 task items not found in the training data") for r in verdict.reasons
    )
    assert any("clean items alone show no real gain" in r for r in verdict.reasons)
    assert any(f.kind == "test_in_train" for f in verdict.findings)


def test_leaks_above_the_share_caution_a_gain_that_holds(tmp_path: Path) -> None:
    verdict = verdict_for_run(judged_run(tmp_path, set(range(40)), ["item-0003"]))
    assert verdict.caution and "1 of 40 task items (2.5%)" in verdict.headline
    clean = verdict_for_run(judged_run(tmp_path / "clean", set(range(40)), []))
    assert clean.verdict == SUCCESS and not clean.caution
    assert not verdict_for_run(judged_run(tmp_path / "none", set(range(40)), None)).caution


# ---------------------------------------------------------------- the command and the run


def test_audit_command_prints_a_summary(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = write_config(tmp_path, tiny_model_dir)
    out = tmp_path / "audit.json"
    result = CliRunner().invoke(app, ["audit", str(config), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "test in train:" in result.output and "tokens per example" in result.output
    record = AuditRecord.model_validate_json(out.read_text())
    assert record.test_in_train is not None and record.test_in_train.exact > 0  # Question: i


def test_audit_command_with_a_bad_config_is_one_error_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"audit": {"ngram_size": 0}}))
    result = CliRunner().invoke(app, ["audit", str(config)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "audit.ngram_size" in lines[0], result.output


def test_a_failing_audit_costs_only_the_audit(
    tmp_path: Path, tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> AuditRecord:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("goaltune.audit.core.audit_data", broken)
    folder = RunFolder(tmp_path)
    audit_run(RunConfig(), folder, tokenizer, None, None)  # type: ignore[arg-type]
    assert not folder.audit_path.exists()
