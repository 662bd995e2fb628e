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
    errors = [(i, lbl, p) for i, (p, lbl) in enumerate(zip(predictions, labels)) if p != lbl]
    dist = sum(levenshtein(p, lbl) for _, lbl, p in errors)
    chars = sum(len(lbl) for lbl in labels)
    per_char = max(0.0, 1.0 - dist / chars) if chars else 0.0
    return Accuracy(len(labels), 1.0 - len(errors) / len(labels), per_char, errors)


@dataclass(frozen=True)
class PairedChange:
    """How a candidate model's readings differ from a reference model's on the same labelled plates."""

    changed: int  # readings that differ
    gained: int  # plates only the candidate reads right
    lost: int  # plates only the reference reads right
    p_value: float  # exact two-sided McNemar test: how likely gained/lost this lopsided by chance

    def to_dict(self) -> dict:
        return {"changed": self.changed, "gained": self.gained, "lost": self.lost, "p_value": self.p_value}


def describe_change(change: dict) -> str:
    """``+gained/-lost plates (McNemar p x.xx)`` from a :meth:`PairedChange.to_dict` dict, for reports."""
    return f"+{change['gained']}/-{change['lost']} plates (McNemar p {change['p_value']:.2f})"


def paired_change(reference: Sequence[str], candidate: Sequence[str], labels: Sequence[str]) -> PairedChange:
    """Compare two models plate by plate; the p-value says whether a difference in perfect-match
    accuracy is more than the chance flips of borderline plates (a small set cannot show it otherwise)."""
    from math import comb

    if not len(reference) == len(candidate) == len(labels):
        raise ValueError("reference, candidate and labels must have the same length")
    gained = sum(c == lbl != r for r, c, lbl in zip(reference, candidate, labels))
    lost = sum(r == lbl != c for r, c, lbl in zip(reference, candidate, labels))
    n, k = gained + lost, min(gained, lost)
    p = min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n) if n else 1.0
    return PairedChange(sum(r != c for r, c in zip(reference, candidate)), gained, lost, p)
