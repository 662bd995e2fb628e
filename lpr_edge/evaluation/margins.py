"""Cutting a plate as a detector would: its box plus a margin per side (``lpr-edge eval --margin``)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import DatasetError


def margin_window(image: np.ndarray, box: tuple[int, int, int, int], margin: float) -> tuple[int, int, int, int]:
    """Where ``crop_at_margin`` cuts: x0, y0, x1, y1 in pixels of ``image`` (clipped to it)."""
    x, y, w, h = box
    H, W = image.shape[:2]
    x0, x1 = int(round(x - margin * w)), int(round(x + w + margin * w))
    y0, y1 = int(round(y - margin * h)), int(round(y + h + margin * h))
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if x1 <= x0 or y1 <= y0:
        raise DatasetError(f"box {box} lies outside its {W}x{H} image; check the box_x/y/w/h columns")
    return x0, y0, x1, y1


def crop_at_margin(image: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    """``image[y - m*h : y + h + m*h, x - m*w : x + w + m*w]`` clipped to the image (m may be negative)."""
    x0, y0, x1, y1 = margin_window(image, box, margin)
    return image[y0:y1, x0:x1]


def parse_margins(text: str) -> list[float]:
    """``"0,0.1,0.2"`` -> [0.0, 0.1, 0.2] (fractions of the box per side; percentages like 10% too)."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part[:-1]) / 100 if part.endswith("%") else float(part)
        except ValueError:
            raise DatasetError(f"--margin {text!r}: write fractions of the plate box per side, e.g. 0,0.1,0.25")
        if not -0.4 <= value <= 2.0:
            raise DatasetError(f"--margin {value}: choose margins between -0.4 and 2 (fractions of the box per side)")
        out.append(value)
    if not out:
        raise DatasetError("--margin needs at least one value, e.g. 0,0.1,0.2")
    return out


def boxed(samples: Sequence) -> list:
    """The samples that carry a plate box; DatasetError when none does."""
    with_box = [s for s in samples if s.box is not None]
    if not with_box:
        raise DatasetError("--margin needs box_x, box_y, box_w, box_h columns in labels.csv (the plate box inside "
                           "each image, in pixels); crops cut by a detector have none: pass the photos with boxes")
    return with_box
