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

A model whose framing says ``keep: confident`` (``lpr-edge framing --keep confident``) keeps instead
the more confident of the two readings where they differ (ties: the crop's own), at half its
confidence; its padded views are then read as any crop (reframed wherever the framing says), since
their reading may be the answer. Better for tight detector boxes, worse for very loose ones
(``benchmarks/README.md``, "Cross-checked confidence": the bundled US model on another region's
plates cut at the box +10 of 114, at 25 % margin −4), so not the bundled models' default.

The Recognizer reads the crops and their padded views in one pass where its backend has room for
both (it asks for twice its ``max_batch``; a TensorRT profile or a server's ``max_batch_size`` may
give less, and then the views are read one after the other): the same readings and confidences.

Measured (``benchmarks/README.md``, "Cross-checked confidence"): over both bundled models, nine
rows each (validation as labelled and audited, another collection, six detector margins), the share
of plates accepted at 99 % precision rises from 47 % to 59 % on average (the US validation split: 73 %
to 91 %), for about one more pass per crop. Off with ``Recognizer(..., cross_check=False)``
/ ``--no-cross-check``.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ..spec import CROSS_CHECK_KEEPS
from .decode import PlateResult, char_product
from .preprocess import within_limit

PAD = 0.04  # of the crop's width and height, per side


def padded_view(crop: np.ndarray) -> np.ndarray:
    """The crop with ``PAD`` of its size added per side by replicating its edge pixels (at least 1 px)."""
    height, width = crop.shape[:2]
    dx, dy = max(1, round(PAD * width)), max(1, round(PAD * height))
    return within_limit(cv2.copyMakeBorder(crop, dy, dy, dx, dx, cv2.BORDER_REPLICATE))


def combine(first: Sequence[PlateResult], second: Sequence[PlateResult], keep: str = "own") -> list[PlateResult]:
    """Per crop, the text both views read with their confidences averaged, or, where they differ, the
    first view's reading (``keep="own"``) or the more confident one (``"confident"``; ties: the first
    view's) at half its confidence."""
    if keep not in CROSS_CHECK_KEEPS:
        raise ValueError(f"keep must be one of {CROSS_CHECK_KEEPS}, got {keep!r}")
    out = []
    for a, b in zip(first, second):
        if a.text == b.text:
            chars = tuple((x + y) / 2 for x, y in zip(a.char_confidences, b.char_confidences))
            out.append(PlateResult(a.text, (char_product(a) + char_product(b)) / 2, chars))
        else:
            kept = b if keep == "confident" and char_product(b) > char_product(a) else a
            out.append(PlateResult(kept.text, char_product(kept) / 2, tuple(x / 2 for x in kept.char_confidences)))
    return out
