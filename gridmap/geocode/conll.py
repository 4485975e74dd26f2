"""The column format of labelled addresses, and chunk scoring by conlleval rules.

The format: one token per line, a space, its tag (``B-road``/``I-road``; ``O`` outside any
chunk); a blank line ends an address. Tags are folded to the lower-case label names of
``labels.txt`` (the data spells some ``devZone``/``subRoad``).

Chunks follow conlleval: a chunk starts at ``B-X``, or at ``I-X`` after ``O`` or after a tag of
another type; it ends before ``O``, ``B-*`` or ``I-Y`` with ``Y != X``. A predicted chunk counts
when its type, start and end all equal a gold chunk's.

>>> chunks(["B-road", "I-road", "B-roadno", "I-road", "O", "I-poi"])
[('road', 0, 2), ('roadno', 2, 3), ('road', 3, 4), ('poi', 5, 6)]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gridmap.errors import InputError, Problem

__all__ = ["read_conll", "parse_conll", "chunks", "ChunkScore", "score_chunks", "canonical_tag"]

Labelled = list[tuple[str, str]]  # one address: (token, tag) pairs


def canonical_tag(tag: str) -> str:
    """``B-devZone`` -> ``B-devzone``; ``O`` stays.

    >>> canonical_tag("I-subRoadno")
    'I-subroadno'
    """
    if tag == "O":
        return tag
    prefix, _, label = tag.partition("-")
    return f"{prefix}-{label.lower()}"


def parse_conll(lines: Iterable[str], source: str = "<text>") -> list[Labelled]:
    """Addresses from the lines of a column-format text; raises InputError naming bad lines.

    >>> parse_conll(["滨 B-road", "江 I-road", "", "1 B-roadno"])
    [[('滨', 'B-road'), ('江', 'I-road')], [('1', 'B-roadno')]]
    """
    addresses: list[Labelled] = []
    current: Labelled = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            if current:
                addresses.append(current)
                current = []
            continue
        token, _, tag = line.rpartition(" ")
        if not token or not (tag == "O" or tag[:2] in ("B-", "I-") and len(tag) > 2):
            problems.append(
                Problem(source, f"expected 'TOKEN B-label|I-label|O', got {line!r}", row=number)
            )
            continue
        current.append((token, canonical_tag(tag)))
    if current:
        addresses.append(current)
    if problems:
        raise InputError(problems[:20])
    return addresses


def read_conll(path: str | Path) -> list[Labelled]:
    """Read a column-format file (UTF-8); InputError if it is missing or malformed."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            return parse_conll(handle, str(path))
    except FileNotFoundError:
        raise InputError.one(str(path), "file not found") from None
    except UnicodeDecodeError as error:
        raise InputError.one(str(path), f"not UTF-8 text ({error.reason})") from None


def chunks(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Chunks ``(label, start, end)`` (end exclusive) of a tag sequence, by conlleval rules."""
    found: list[tuple[str, int, int]] = []
    label, start = None, 0
    for index, tag in enumerate(tags):
        prefix, _, kind = tag.partition("-")
        begins = prefix == "B" or (prefix == "I" and kind != label)
        if label is not None and (tag == "O" or begins):
            found.append((label, start, index))
            label = None
        if tag != "O" and begins:
            label, start = kind, index
    if label is not None:
        found.append((label, start, len(tags)))
    return found


@dataclass(frozen=True)
class ChunkScore:
    """Counts and precision/recall/F1 (0-100) of one label, or of all (``label="overall"``)."""

    label: str
    correct: int
    predicted: int
    gold: int

    @property
    def precision(self) -> float:
        return 100.0 * self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return 100.0 * self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score_chunks(
    gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]
) -> dict[str, ChunkScore]:
    """Per-label and ``overall`` chunk scores of predicted tag sequences against gold ones.

    >>> scores = score_chunks([["B-road", "I-road", "B-roadno"]], [["B-road", "I-road", "I-road"]])
    >>> scores["overall"].correct, scores["overall"].predicted, scores["overall"].gold
    (0, 1, 2)
    """
    correct: Counter[str] = Counter()
    n_predicted: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    for number, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted, strict=True)):
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(
                f"address {number}: {len(gold_tags)} gold tags, {len(predicted_tags)} predicted"
            )
        gold_chunks = set(chunks(gold_tags))
        predicted_chunks = chunks(predicted_tags)
        n_gold.update(label for label, _, _ in gold_chunks)
        n_predicted.update(label for label, _, _ in predicted_chunks)
        correct.update(c[0] for c in predicted_chunks if c in gold_chunks)
    labels = sorted(set(n_gold) | set(n_predicted))
    scores = {
        label: ChunkScore(label, correct[label], n_predicted[label], n_gold[label])
        for label in labels
    }
    scores["overall"] = ChunkScore(
        "overall", sum(correct.values()), sum(n_predicted.values()), sum(n_gold.values())
    )
    return scores
