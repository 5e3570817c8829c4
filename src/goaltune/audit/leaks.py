"""Held-out items found in the training data, and repeats inside it (exact and near-duplicates).

Near-duplicates are found with MinHash LSH (datasketch) over the prompts' character shingles;
every candidate the index returns is then checked with the exact Jaccard similarity, so the
index only has to be generous (it is tuned towards recall) and the threshold stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from goaltune.audit.text import Entry, exact_key, jaccard, shingles, words
from goaltune.run_folder.schema import DuplicateCounts, LeakCounts, LeakMatch

NUM_PERM = 128
LSH_WEIGHTS = (0.2, 0.8)  # (false positive, false negative): misses cost more than checks
DUPLICATE_EXAMPLES = 5  # groups of repeated training examples kept in audit.json


def _minhashes(sets: list[set[str]]) -> list[MinHash]:
    return MinHash.bulk([[s.encode("utf-8") for s in one] for one in sets], num_perm=NUM_PERM)


@dataclass
class TrainIndex:
    """The training examples, indexed by exact prompt, exact long answer and prompt shingles."""

    entries: list[Entry]
    threshold: float
    min_reference_chars: int
    references: bool = True  # whether a repeated long reference answer counts as a leak

    def __post_init__(self) -> None:
        self.prompts: dict[str, int] = {}
        self.answers: dict[str, int] = {}
        for index, entry in enumerate(self.entries):
            self.prompts.setdefault(exact_key(entry.prompt), index)
            if entry.answer is not None and self._long_enough(entry.answer):
                self.answers.setdefault(exact_key(entry.answer), index)
        self.shingles = [shingles(entry.prompt) for entry in self.entries]
        self.lsh = MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM, weights=LSH_WEIGHTS)
        with self.lsh.insertion_session() as session:
            for index, minhash in enumerate(_minhashes(self.shingles)):
                if self.shingles[index]:
                    session.insert(index, minhash)

    def _long_enough(self, answer: str) -> bool:
        return len(" ".join(words(answer))) >= self.min_reference_chars

    def near(self, prompt_shingles: set[str], minhash: MinHash) -> list[tuple[int, float]]:
        """Training examples whose prompt is at least `threshold` alike, most alike first."""
        if not prompt_shingles:
            return []
        found = [
            (int(index), jaccard(prompt_shingles, self.shingles[int(index)]))
            for index in self.lsh.query(minhash)
        ]
        return sorted(
            [(i, score) for i, score in found if score >= self.threshold],
            key=lambda pair: (-pair[1], pair[0]),
        )

    def match(self, entry: Entry, minhash: MinHash) -> LeakMatch | None:
        """How a held-out entry appears in the training data: exact, near or by its reference."""
        exact = self.prompts.get(exact_key(entry.prompt))
        if exact is not None:
            return LeakMatch(
                id=entry.id, kind="exact", similarity=1.0, train=self.entries[exact].id
            )
        near = self.near(shingles(entry.prompt), minhash)
        if near:
            index, score = near[0]
            return LeakMatch(
                id=entry.id, kind="near", similarity=round(score, 3), train=self.entries[index].id
            )
        if self.references and entry.answer is not None and self._long_enough(entry.answer):
            same = self.answers.get(exact_key(entry.answer))
            if same is not None:
                return LeakMatch(
                    id=entry.id, kind="reference", similarity=1.0, train=self.entries[same].id
                )
        return None


def leaks(held_out: list[Entry], index: TrainIndex) -> LeakCounts:
    """Which held-out entries (test items or validation examples) are in the training data."""
    minhashes = _minhashes([shingles(entry.prompt) for entry in held_out])
    matches = [index.match(entry, minhash) for entry, minhash in zip(held_out, minhashes)]
    found = [match for match in matches if match is not None]
    kinds = [match.kind for match in found]
    return LeakCounts(
        checked=len(held_out),
        exact=kinds.count("exact"),
        near=kinds.count("near"),
        reference=kinds.count("reference"),
        items=[match.id for match in found],
        matches=found,
    )


def duplicates(index: TrainIndex) -> DuplicateCounts:
    """Training examples that repeat an earlier one whole, or nearly repeat its prompt."""
    first_seen: dict[str, int] = {}
    exact = near = 0
    groups: list[list[str]] = []
    minhashes = _minhashes(index.shingles)
    for position, entry in enumerate(index.entries):
        key = exact_key(f"{entry.prompt}\n{entry.answer or ''}")
        earlier = first_seen.setdefault(key, position)
        if earlier != position:
            exact += 1
            group = [index.entries[earlier].id, entry.id]
        else:
            alike = [i for i, _ in index.near(index.shingles[position], minhashes[position])]
            before = [i for i in alike if i < position]
            if not before:
                continue
            near += 1
            group = [index.entries[before[0]].id, entry.id]
        if len(groups) < DUPLICATE_EXAMPLES:
            groups.append(group)
    return DuplicateCounts(checked=len(index.entries), exact=exact, near=near, examples=groups)
