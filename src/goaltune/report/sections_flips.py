"""The run report's "What flipped" section: for each metric the verdict judged, the items that went
right -> wrong and wrong -> right, with McNemar's exact p-value and, for the first few, the prompt
and both answers.

Counts and ids come from verdict.json, prompts and answers from the eval files, all read through
the typed run folder; a run judged before flips were counted says so instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from goaltune.deltas import RIGHT_AT, judged_source
from goaltune.errors import RunError
from goaltune.format import count, value_text
from goaltune.report.inputs import RunData
from goaltune.report.render import Badge, Block, Cell, ItemChange, Section, Table, Text
from goaltune.run_folder import EvalResult, FlipRecord, RunFolder, ScoredItem, VerdictRecord

MAX_ITEMS = 10  # per metric, right -> wrong first
MAX_OUTPUT_CHARS = 2000
ALPHA = 0.05  # below this p-value the flips lean one way beyond chance
TITLE = "What flipped"
T = TypeVar("T")

EXPLANATION = (
    f"An item is right when its value of the judged metric is at least {RIGHT_AT:g} (1 for "
    "pass/fail metrics), so a continuous score counts as a flip only when it crosses "
    f"{RIGHT_AT:g}. "
    "Averages hide flips: a metric that held within noise can have swapped many right answers "
    "for wrong ones. McNemar's exact two-sided p-value asks whether the flips lean one way more "
    f"than chance would (below {ALPHA:g}: they do)."
)


def _read(folder: RunFolder, read: Callable[[], T]) -> T | str:
    """A typed record, or why it could not be read (file names relative to the run folder)."""
    try:
        return read()
    except RunError as error:
        return str(error).replace(f"{folder.path}/", "")


def _clip(text: str | None) -> str:
    text = text or ""
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return f"{text[:MAX_OUTPUT_CHARS]}\n... ({len(text) - MAX_OUTPUT_CHARS:,} more characters)"


def _label(flip: FlipRecord) -> str:
    return flip.name if flip.metric == flip.name else f"{flip.name} ({flip.metric})"


def _lean(flip: FlipRecord) -> Badge:
    if flip.right_to_wrong + flip.wrong_to_right == 0:
        return Badge("no flips", "muted")
    if flip.p_value >= ALPHA:
        # both directions at once is churn worth a look, even when the counts balance
        swapped = min(flip.right_to_wrong, flip.wrong_to_right) > 0
        return Badge("no clear lean", "warn" if swapped else "muted")
    if flip.right_to_wrong > flip.wrong_to_right:
        return Badge("more right -> wrong", "bad")
    return Badge("more wrong -> right", "good")


def _counts_table(flips: list[FlipRecord]) -> Table:
    rows: list[tuple[Cell, ...]] = [
        (
            _label(f),
            f.role,
            count(f.right_to_wrong),
            count(f.wrong_to_right),
            f"{f.wrong_to_right - f.right_to_wrong:+d}",
            f"{f.p_value:.3g}",
            _lean(f),
        )
        for f in flips
    ]
    return Table(
        ("metric", "role", "right -> wrong", "wrong -> right", "net", "McNemar p", "lean"), rows
    )


def _by_id(items: list[ScoredItem]) -> dict[str, ScoredItem]:
    return {item.id: item for item in items if item.id is not None}


def _item(
    item_id: str, kind: Badge, metric: str, before: ScoredItem | None, after: ScoredItem | None
) -> ItemChange:
    values = [value_text(side.metrics.get(metric)) if side else "-" for side in (before, after)]
    return ItemChange(
        item_id,
        kind,
        _clip((before or after or ScoredItem()).prompt),
        _clip(before.output if before else None),
        _clip(after.output if after else None),
        Table(("", metric), [("before", values[0]), ("after", values[1])]),
    )


def _flip_items(flip: FlipRecord, before: EvalResult, after: EvalResult) -> list[Block]:
    """The first MAX_ITEMS flipped items of one metric with their prompts and answers."""
    flipped = [(i, Badge("right -> wrong", "bad")) for i in flip.right_to_wrong_ids] + [
        (i, Badge("wrong -> right", "good")) for i in flip.wrong_to_right_ids
    ]
    if not flipped:
        return []
    heading = Text(
        f"{_label(flip)}: {count(flip.right_to_wrong)} right -> wrong, "
        f"{count(flip.wrong_to_right)} wrong -> right (p = {flip.p_value:.3g})."
    )
    try:
        source = judged_source(flip.name, flip.role, before, after)
    except RunError as error:
        return [heading, Text(f"Items not shown: {error}.", note=True)]
    before_items, after_items = _by_id(source.before.items), _by_id(source.after.items)
    blocks: list[Block] = [heading]
    blocks += [
        _item(item_id, kind, flip.metric, before_items.get(item_id), after_items.get(item_id))
        for item_id, kind in flipped[:MAX_ITEMS]
    ]
    if len(flipped) > MAX_ITEMS:
        blocks.append(
            Text(
                f"... and {len(flipped) - MAX_ITEMS} more flipped items of {_label(flip)}; "
                "verdict.json lists every id under flips.",
                note=True,
            )
        )
    return blocks


def flips_section(run: RunData) -> Section:
    """Per judged metric: flip counts and p-value, then the first flipped items side by side."""
    folder = RunFolder(run.path)
    verdict = _read(folder, folder.read_verdict)
    if not isinstance(verdict, VerdictRecord):
        return Section("flips", TITLE, [Text(f"No flips to show: {verdict}.", note=True)])
    if not verdict.flips:
        why = (
            "this verdict.json was written before goaltune counted flips; `goaltune verdict RUN` "
            "recomputes it"
            if verdict.deltas
            else "no metric was judged"
        )
        return Section("flips", TITLE, [Text(f"No flips to show: {why}.", note=True)])
    blocks: list[Block] = [Text(EXPLANATION, note=True), _counts_table(verdict.flips)]
    before = _read(folder, lambda: folder.read_eval("before"))
    after = _read(folder, lambda: folder.read_eval("after"))
    if not isinstance(before, EvalResult) or not isinstance(after, EvalResult):
        missing = "; ".join(r for r in (before, after) if isinstance(r, str))
        blocks.append(Text(f"Flipped items not shown: {missing}.", note=True))
        return Section("flips", TITLE, blocks)
    for flip in verdict.flips:
        blocks += _flip_items(flip, before, after)
    return Section("flips", TITLE, blocks)
