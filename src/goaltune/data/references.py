"""The reference of a test item under the names eval sets give it.

Test files come from many tools: promptfoo and OpenAI evals say `ideal` or `expected`, others
`reference`, `target`, `answer` or `output`. A `prompt` (or `instruction`) record may name its
reference with any one of them; two in one record are an error, since either could be meant.
"""

from __future__ import annotations

from goaltune.data.loading import RawRecord
from goaltune.errors import DataError

REFERENCE_FIELDS = ("completion", "reference", "target", "answer", "expected", "ideal", "output")


def _has_value(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)  # NaN


def reference_field(record: RawRecord) -> str | None:
    """The one field of `record` that holds its reference, if any; DataError for two."""
    present = [name for name in REFERENCE_FIELDS if _has_value(record.fields.get(name))]
    if len(present) > 1:
        names = " and ".join(f"'{name}'" for name in present)
        raise DataError(
            f"{record.location}: fields {names} could each be the reference; keep one "
            f"(a test item's reference is one of: {', '.join(REFERENCE_FIELDS)})"
        )
    return present[0] if present else None


def canonical_references(records: list[RawRecord]) -> list[RawRecord]:
    """Prompt and instruction records with their reference under the format's own name.

    `prompt` + `reference` becomes `prompt` + `completion`, `instruction` + `answer` becomes
    `instruction` + `output`; chat `messages` records carry their reference in the last
    assistant message and are left as they are.
    """
    out = []
    for record in records:
        fields = record.fields
        if "messages" in fields or not ({"prompt", "instruction"} & fields.keys()):
            out.append(record)
            continue
        found = reference_field(record)
        target = "output" if "instruction" in fields else "completion"
        if found is None or found == target:
            out.append(record)
            continue
        renamed = {key: value for key, value in fields.items() if key != found}
        out.append(RawRecord({**renamed, target: fields[found]}, record.location))
    return out
