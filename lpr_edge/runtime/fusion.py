"""One reading from several views of the same plate (the frames a camera sees as a vehicle passes).

The candidates are the views' own readings (after their plate-format repair, where the Recognizer has a
format). Each candidate is scored on every view by the CTC posterior of its text under that view's per-step
class probabilities, P(text | view). The fused reading is the candidate whose posteriors have the highest
geometric mean over the views, each posterior floored at ``FLOOR`` so that one badly cut view cannot veto
what the others agree on; a view that read something else still says how likely it finds each candidate.
Its confidence is the arithmetic mean over the views of its posterior: on one view that view's own
confidence, so ``min_confidence`` means the same for a track as for a crop (chosen on development sets
built by ``benchmarks/track_sets.py --seed 1``: the geometric mean chose better than the arithmetic mean
and the vote, the arithmetic mean ranked better as a confidence; ``benchmarks/README.md``).

Where the backend gives no per-step probabilities (older engines, NVIDIA's TAO engines), each view gives its
own reading its confidence and every other candidate 0, and the candidate with the highest mean wins: a
confidence-weighted vote on the same scale.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .decode import EMPTY, PlateResult, class_indices, ctc_posterior

FLOOR = 1e-4  # the least a view's posterior counts for in the geometric mean


def candidate_posteriors(readings: Sequence[PlateResult], probs: np.ndarray | None, charset: str,
                         blank: int) -> tuple[list[str], np.ndarray]:
    """The texts the views read (empty readings are no candidate) and P(text | view) for each, [K, V];
    ``probs`` [V, T, C] per-step class probabilities of the views, or None: each view's own reading gets
    its confidence, the others 0."""
    texts = sorted({r.text for r in readings if r.text})
    views = len(readings)
    if probs is None:
        return texts, np.array([[r.confidence if r.text == t else 0.0 for r in readings] for t in texts])
    labels = [label for label in class_indices(texts, charset, blank) for _ in range(views)]
    # every candidate under every view in one batch: rows are (candidate, view)
    return texts, ctc_posterior(np.tile(probs, (len(texts), 1, 1)), labels, blank).reshape(len(texts), views)


def fuse(readings: Sequence[PlateResult], probs: np.ndarray | None, charset: str, blank: int) -> PlateResult:
    """The fused reading of a plate's views (see the module's text); ties go to the text more views read,
    then to the one first read. Its character confidences are those of the surest view that read it."""
    texts, posterior = candidate_posteriors(readings, probs, charset, blank)
    if not texts:
        return EMPTY
    score = (np.log(np.maximum(posterior, FLOOR)).mean(axis=1) if probs is not None else posterior.mean(axis=1))
    votes = [sum(r.text == t for r in readings) for t in texts]
    first = [next(i for i, r in enumerate(readings) if r.text == t) for t in texts]
    best = max(range(len(texts)), key=lambda k: (score[k], votes[k], -first[k]))
    surest = max((r for r in readings if r.text == texts[best]), key=lambda r: r.confidence)
    return PlateResult(texts[best], min(1.0, float(posterior[best].mean())), surest.char_confidences)
