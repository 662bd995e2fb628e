"""Cross-checking a reading on a second view of its crop, so the confidence says how far to trust it.

A model's best-path confidence is often high on a misread: a character dropped at the crop's edge,
a glyph from the plate frame read as a character, a look-alike swapped. Such readings are fragile:
read the same crop with a little more of its surroundings and they change, where a right reading
stays. So each crop is read a second time, padded by ``PAD`` of its width and height per side (edge
pixels replicated: no new content, only the framing moves), through the same path (preprocess,
infer, decode, plate format; reframed where the crop itself was: a padded view of a crop that was
not is only a little looser, and reading it as it is costs a pass less). The reading stays the
crop's own; its confidence becomes the mean of the two readings' confidences, the padded view
counting 0 if it read something else, and each character's confidence likewise.

It is on where the confidence would otherwise be the character product (the backend gives no per-step
probabilities); the CTC posterior ranks better alone (``lpr_edge.runtime.decode``). Measured in
``benchmarks/results/confidence_cross_check.md``: over both bundled models, nine rows each, the
character product cross-checked accepts 61.5 % of plates at 99 % precision instead of 52.9 %, for one
more pass per crop.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .decode import PlateResult, char_product
from .preprocess import within_limit

PAD = 0.04  # of the crop's width and height, per side


def padded_view(crop: np.ndarray) -> np.ndarray:
    """The crop with ``PAD`` of its size added per side by replicating its edge pixels (at least 1 px)."""
    height, width = crop.shape[:2]
    dx, dy = max(1, round(PAD * width)), max(1, round(PAD * height))
    return within_limit(cv2.copyMakeBorder(crop, dy, dy, dx, dx, cv2.BORDER_REPLICATE))


def combine(first: Sequence[PlateResult], second: Sequence[PlateResult]) -> list[PlateResult]:
    """Per crop, the first view's reading with the character products of both views averaged, the
    second counting 0 where it read something else (each character's confidence likewise)."""
    out = []
    for a, b in zip(first, second):
        if a.text == b.text:
            chars = tuple((x + y) / 2 for x, y in zip(a.char_confidences, b.char_confidences))
            out.append(PlateResult(a.text, (char_product(a) + char_product(b)) / 2, chars))
        else:
            out.append(PlateResult(a.text, char_product(a) / 2, tuple(x / 2 for x in a.char_confidences)))
    return out
