"""Data loading, format detection, normalization, labels and batching."""

import json
from pathlib import Path

import pytest

from goaltune.config import DataConfig, TrainConfig
from goaltune.data import load_task_items, prepare_training_data
from goaltune.data.encoding import (
    IGNORE_INDEX,
    collate,
    encode_dataset,
    encode_example,
    make_batches,
    split_examples,
)
from goaltune.data.formats import Example, detect_format, normalize_all
from goaltune.data.loading import fingerprint, read_records
from goaltune.errors import DataError

CHAT = {
    "messages": [
        {"role": "user", "content": "Say hi"},
        {"role": "assistant", "content": "hi there"},
    ]
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (CHAT, "messages"),
        ({"instruction": "a", "input": "", "output": "b"}, "alpaca"),
        ({"prompt": "a", "completion": "b"}, "prompt_completion"),
        ({"text": "abc"}, "text"),
        ({"question": "?"}, None),
    ],
)
def test_detect_format(fields: dict, expected: str | None) -> None:
    assert detect_format(fields) == expected


def test_every_file_type_loads_the_same_records(tmp_path: Path) -> None:
    rows = [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(3)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    (tmp_path / "d.json").write_text(json.dumps(rows))
    (tmp_path / "d.csv").write_text(
        "prompt,completion\n" + "".join(f"p{i},c{i}\n" for i in range(3))
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    loaded = {
        ext: [r.fields for r in read_records(str(tmp_path / f"d.{ext}"))]
        for ext in ("jsonl", "json", "csv", "parquet")
    }
    assert all(value == rows for value in loaded.values())
    assert fingerprint(read_records(str(tmp_path / "d.jsonl"))) == fingerprint(
        read_records(str(tmp_path / "d.csv"))
    )


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(CHAT) + "\n{not json\n")
    with pytest.raises(DataError, match=r"bad\.jsonl, line 2: not valid JSON"):
        read_records(str(path))


def test_missing_field_and_unknown_role_are_named(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl", [{"instruction": "x", "output": "y"}, {"instruction": "x"}]
    )
    with pytest.raises(DataError, match=r"a\.jsonl, line 2: missing field 'output'"):
        normalize_all(read_records(str(path)))
    bad_role = {"messages": [{"role": "robot", "content": "x"}]}
    path = write_jsonl(tmp_path / "b.jsonl", [bad_role])
    with pytest.raises(
        DataError, match=r"b\.jsonl, line 1: messages\[0\]\.role: unknown role 'robot'"
    ):
        normalize_all(read_records(str(path)))
    path = write_jsonl(tmp_path / "c.jsonl", [{"prompt": "x", "completion": 5}])
    with pytest.raises(DataError, match="field 'completion' must be a string, got int"):
        normalize_all(read_records(str(path)))


def test_empty_missing_and_unsupported_files(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match="no records"):
        read_records(str(tmp_path / "empty.jsonl"))
    with pytest.raises(DataError, match="data file not found"):
        read_records(str(tmp_path / "absent.jsonl"))
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataError, match="unsupported file type"):
        read_records(str(tmp_path / "x.txt"))


def test_alpaca_and_system_prompt_normalize_to_messages(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl", [{"instruction": "Add", "input": "1+1", "output": "2"}]
    )
    examples, fmt = normalize_all(read_records(str(path)), system_prompt="Be brief.")
    assert fmt == "alpaca"
    assert [m["role"] for m in examples[0].messages] == ["system", "user", "assistant"]
    assert examples[0].messages[1]["content"] == "Add\n\n1+1"


def test_completion_only_labels_cover_exactly_the_reply(tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    encoded = encode_example(Example(messages=CHAT["messages"]), tokenizer)
    supervised = [t for t, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(supervised) == "hi there<|im_end|>"
    everything = encode_example(Example(messages=CHAT["messages"]), tokenizer, train_on="all")
    assert everything.labels == everything.input_ids


def test_multi_turn_supervises_every_assistant_turn(tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    messages = CHAT["messages"] + [
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "bye"},
    ]
    encoded = encode_example(Example(messages=messages), tokenizer)
    supervised = [t for t, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(supervised) == "hi there<|im_end|>bye<|im_end|>"


def test_truncation_and_drop_policies_are_counted(tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    long = Example(
        messages=[
            {"role": "user", "content": "word " * 200},
            {"role": "assistant", "content": "ok"},
        ]
    )
    short = Example(messages=CHAT["messages"])
    kept, stats = encode_dataset([long, short], tokenizer, max_seq_length=32)
    assert stats.kept == 1 and stats.dropped["no supervised tokens left after truncation"] == 1
    with pytest.raises(DataError, match="all 1 were dropped"):
        encode_dataset([long], tokenizer, max_seq_length=32, truncation="drop")


def test_split_is_seeded_and_validated() -> None:
    examples = [Example(text=str(i)) for i in range(20)]
    train_a, val_a = split_examples(examples, 0.25, seed=1)
    train_b, val_b = split_examples(examples, 0.25, seed=1)
    assert (
        [e.text for e in val_a] == [e.text for e in val_b]
        and len(val_a) == 5
        and len(train_a) == 15
    )
    with pytest.raises(DataError, match="leaves no training data"):
        split_examples(examples[:1], 0.9, seed=0)


def test_batches_cover_every_example_once_and_collate_pads(tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    examples = [
        Example(
            messages=[{"role": "user", "content": "x" * i}, {"role": "assistant", "content": "y"}]
        )
        for i in range(1, 30)
    ]
    encoded, _ = encode_dataset(examples, tokenizer, max_seq_length=512)
    batches = make_batches(encoded, 4, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(len(encoded)))
    batch = collate([encoded[i] for i in batches[0]], tokenizer.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert int(batch["attention_mask"].sum()) == sum(len(encoded[i].input_ids) for i in batches[0])


def test_prepare_and_task_items_from_files(tmp_path: Path, tiny_model_and_tokenizer) -> None:
    _, tokenizer = tiny_model_and_tokenizer
    train = write_jsonl(
        tmp_path / "train.jsonl", [{"prompt": f"q{i}", "completion": f"a{i}"} for i in range(10)]
    )
    test = write_jsonl(
        tmp_path / "test.jsonl", [{"prompt": "q", "completion": "a", "metrics": ["exact_match"]}]
    )
    data = DataConfig(train=str(train), test=str(test), validation_split=0.2)
    prepared = prepare_training_data(data, TrainConfig(max_seq_length=64), tokenizer)
    assert prepared.stats["train_examples"] == 8 and prepared.stats["validation_examples"] == 2
    assert len(prepared.fingerprint) == 64
    items = load_task_items(data)
    assert items[0]["reference"] == "a" and items[0]["metrics"] == ["exact_match"]
    assert items[0]["messages"] == [{"role": "user", "content": "q"}]


def test_builtin_json_api_items_keep_reference_and_schema() -> None:
    items = load_task_items(DataConfig(train="builtin:json-api"), limit=5)
    assert len(items) == 5
    assert all(
        json.loads(item["reference"]) and item["schema"]["type"] == "object" for item in items
    )


def test_csv_byte_order_mark_and_non_utf8_files(tmp_path: Path) -> None:
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfprompt,completion\np,c\n")
    records = read_records(str(tmp_path / "bom.csv"))
    assert [r.fields for r in records] == [{"prompt": "p", "completion": "c"}]
    (tmp_path / "latin1.jsonl").write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"latin1\.jsonl: not UTF-8 text \(byte 0xe9\)"):
        read_records(str(tmp_path / "latin1.jsonl"))


def test_a_split_of_a_single_example_leaves_no_training_data() -> None:
    with pytest.raises(DataError, match="takes 1 of the 1 examples and leaves no training data"):
        split_examples([Example(text="only")], 0.1, seed=0)
