"""Accuracy of plate readings: perfect-match rate and per-character match."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two strings."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class Accuracy:
    """Scores of predictions against labels, with the list of misreads."""

    plates: int
    perfect_match: float
    per_char_match: float
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (index, label, prediction)

    def to_dict(self) -> dict:
        return {"plates": self.plates, "perfect_match": self.perfect_match, "per_char_match": self.per_char_match}


def score(predictions: Sequence[str], labels: Sequence[str]) -> Accuracy:
    """Perfect-match rate and per-character match = 1 - sum(edit distances) / sum(label lengths), floored at 0."""
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    if not labels:
        return Accuracy(0, 0.0, 0.0)
    errors = [(i, l, p) for i, (p, l) in enumerate(zip(predictions, labels)) if p != l]
    dist = sum(levenshtein(p, l) for _, l, p in errors)
    chars = sum(len(l) for l in labels)
    per_char = max(0.0, 1.0 - dist / chars) if chars else 0.0
    return Accuracy(len(labels), 1.0 - len(errors) / len(labels), per_char, errors)
