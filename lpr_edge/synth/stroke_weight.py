"""Thicker or thinner strokes: plates paint, print and emboss their characters in many weights, and
wear, dirt, night blooming and IR change the weight a camera sees. A model that has seen each glyph
in one weight reads look-alikes worse when the weight changes (the bundled US model reads 94.7 % of
its validation crops, 84.0 % with their strokes thickened this way, 84.0 % thinned;
``benchmarks/README.md``, "Stroke weight"), so training draws some crops with their strokes changed.

Grey-level erosion (each pixel the darkest of its neighbourhood) widens dark strokes on a light
plate and narrows light ones on a dark plate; dilation does the opposite. The neighbourhood is an
ellipse 1.5-4 % of the crop's height across (at least 2 px), so the change scales with the plate.
"""
from __future__ import annotations

import cv2
import numpy as np

SIZE = (0.015, 0.04)  # the neighbourhood's diameter, as a fraction of the crop's height


def change_stroke_weight(img: np.ndarray, rng: np.random.Generator, erode: bool | None = None) -> np.ndarray:
    """``img`` eroded or dilated (``erode``; None: either, equally often): dark strokes on a light plate
    thicker or thinner, light ones on a dark plate the other way. Same shape and dtype."""
    k = max(2, int(round(img.shape[0] * rng.uniform(*SIZE))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    if erode is None:
        erode = bool(rng.random() < 0.5)
    return cv2.erode(img, kernel) if erode else cv2.dilate(img, kernel)
