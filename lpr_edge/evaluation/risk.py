"""How far a reading's confidence can be trusted: risk-coverage of accepting the most confident
readings first (selective prediction).

A robot accepts a reading when its confidence clears ``min_confidence``. Sorting readings by
confidence, the *coverage* is the share accepted and the *precision* the share of accepted
readings that are right; the threshold for a target precision (99 %) says what to set.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

COVERAGES = (0.5, 0.8, 0.9, 1.0)
# PlateResult.confidence (CTC posterior or cross-checked product), the characters' product (what DeepStream's
# parser gives), the weakest character
SCORES = ("plate", "product", "weakest")
LABELS = {"plate": "plate confidence", "product": "character product", "weakest": "weakest character",
          "fused": "fused confidence of a track"}


@dataclass
class RiskCoverage:
    """Precision of the accepted readings at fixed coverages, and the threshold for a target precision."""

    score: str
    precision_at: dict[float, float]          # coverage -> precision
    target_precision: float
    threshold: float | None                   # lowest confidence still accepted at the target (None: never met)
    coverage_at_target: float                 # share accepted at that threshold (0 if never met)
    aurc: float                               # area under the risk-coverage curve (lower is better)
    curve: list[tuple[float, float]] = field(default_factory=list)  # (coverage, precision) per accepted count

    def to_dict(self) -> dict:
        return {"score": self.score, "precision_at": {f"{k:.2f}": v for k, v in self.precision_at.items()},
                "target_precision": self.target_precision, "threshold": self.threshold,
                "coverage_at_target": self.coverage_at_target, "aurc": self.aurc}

    def describe(self) -> str:
        at = ", ".join(f"{c:.0%}: {p:.1%}" for c, p in self.precision_at.items())
        target = (f"{self.target_precision:.0%} precision at {self.coverage_at_target:.1%} coverage "
                  f"(min_confidence {self.threshold:.3f})" if self.threshold is not None
                  else f"{self.target_precision:.0%} precision never reached")
        return f"{LABELS.get(self.score, self.score)}: precision at coverage {at}; {target}"


def risk_coverage(confidences: Sequence[float], correct: Sequence[bool], score: str = "plate",
                  target: float = 0.99) -> RiskCoverage:
    """Risk-coverage of ``correct`` readings ranked by ``confidences`` (ties keep their order)."""
    conf = np.asarray(confidences, np.float64)
    ok = np.asarray(correct, bool)
    if conf.size == 0:
        return RiskCoverage(score, {c: 0.0 for c in COVERAGES}, target, None, 0.0, 0.0)
    order = np.argsort(-conf, kind="stable")
    hits = np.cumsum(ok[order])
    n = np.arange(1, conf.size + 1)
    precision = hits / n
    coverage = n / conf.size
    at = {c: float(precision[max(0, int(np.ceil(c * conf.size)) - 1)]) for c in COVERAGES}
    # A threshold accepts every reading at or above it: only cut between different confidences.
    sorted_conf = conf[order]
    cut_ok = np.append(sorted_conf[1:] < sorted_conf[:-1], True)
    meets = np.nonzero((precision >= target) & cut_ok)[0]
    best = int(meets[-1]) if meets.size else -1
    return RiskCoverage(score, at, target, float(sorted_conf[best]) if best >= 0 else None,
                        float(coverage[best]) if best >= 0 else 0.0, float(np.mean(1 - precision)),
                        list(zip(coverage.tolist(), precision.tolist())))


def plate_scores(results, score: str) -> list[float]:
    """The confidence of each PlateResult under ``score``: ``plate`` (its confidence), ``product`` of its
    character confidences or ``weakest`` character."""
    if score == "weakest":
        return [min(r.char_confidences) if r.char_confidences else 0.0 for r in results]
    if score == "product":
        return [float(np.prod(r.char_confidences)) if r.char_confidences else 0.0 for r in results]
    return [r.confidence for r in results]
