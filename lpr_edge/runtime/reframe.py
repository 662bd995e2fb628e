"""Re-reading loose crops: cut again around the characters the first reading found, read once more.

A detector's box is often loose (0-30 % of the plate per side). The margin then holds frame text, car
body and neighbouring marks, and the characters shrink below the size the model was trained on; the
model reads worse the looser the crop. The first reading's best path says where the characters are:
its first and last non-blank time step. A model's spec may carry ``framing``: where its characters
sit in the crops it was trained on (per reading length, the median first and last non-blank step
as fractions of the crop width; fitted by :func:`fit_spans`, ``lpr-edge framing``). A crop whose
characters sit narrower than that is cut again so that they sit as in training, plus ``margin`` of
the plate's estimated width per side (never beyond the crop; the height in the crop's own aspect,
centred), and read a second time. Empty readings, reading lengths the framing does not know and
crops the cut would hardly change keep their first reading.
"""
from __future__ import annotations

from typing import Mapping, Sequence, Tuple

import numpy as np

from .decode import PlateResult

Window = Tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels of the crop

MARGINS = (0.0, 0.05, 0.1)   # the margins `lpr-edge framing` chooses from (lpr_edge.evaluation.framing)
MIN_CHANGE = 0.03            # cuts that keep more than 97 % of both sides are not worth a second pass


def char_spans(indices: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per plate: first non-blank step and one past the last, as fractions of the crop width, and
    whether there is any non-blank step. ``indices``: best-path class per step, [N, T]."""
    steps = indices.shape[1]
    found = indices != blank
    anything = found.any(axis=1)
    first = found.argmax(axis=1)
    last = steps - 1 - found[:, ::-1].argmax(axis=1)
    return first / steps, (last + 1) / steps, anything


def fit_spans(indices: np.ndarray, texts: Sequence[str], blank: int,
              min_count: int = 20) -> dict[str, tuple[float, float]]:
    """Median character span per reading length, over the crops read with that length; lengths read
    fewer than ``min_count`` times are left out (too few to say where their characters sit)."""
    start, end, _ = char_spans(indices, blank)
    lengths = np.array([len(t) for t in texts])
    spans = {}
    for n in sorted(set(lengths.tolist()) - {0}):
        chosen = lengths == n
        if chosen.sum() >= min_count:
            spans[str(n)] = (round(float(np.median(start[chosen])), 4), round(float(np.median(end[chosen])), 4))
    return spans


def windows(shapes: Sequence[tuple[int, ...]], indices: np.ndarray, results: Sequence[PlateResult],
            framing: Mapping, blank: int) -> list[Window | None]:
    """Where to cut each crop for its second reading, or None to keep the first one."""
    spans, margin = framing["spans"], framing["margin"]
    start, end, anything = char_spans(indices, blank)
    out: list[Window | None] = []
    for shape, a, b, found, result in zip(shapes, start.tolist(), end.tolist(), anything.tolist(), results):
        ref = spans.get(str(len(result.text)))
        if not found or ref is None:
            out.append(None)
            continue
        height, width = shape[:2]
        a0, b0 = ref
        plate_w = (b - a) * width / (b0 - a0)        # the width at which the characters sit as in training
        plate_x = a * width - a0 * plate_w
        plate_h = plate_w * height / width
        plate_y = (height - plate_h) / 2
        x0 = max(0, int(round(plate_x - margin * plate_w)))
        x1 = min(width, int(round(plate_x + (1 + margin) * plate_w)))
        y0 = max(0, int(round(plate_y - margin * plate_h)))
        y1 = min(height, int(round(plate_y + (1 + margin) * plate_h)))
        keeps = min((x1 - x0) / width, (y1 - y0) / height)
        out.append(None if keeps > 1 - MIN_CHANGE or x1 - x0 < 8 or y1 - y0 < 4 else (x0, y0, x1, y1))
    return out


def cut(crop: np.ndarray, window: Window) -> np.ndarray:
    """The crop's pixels inside ``window`` (contiguous, as the resize wants them)."""
    x0, y0, x1, y1 = window
    return np.ascontiguousarray(crop[y0:y1, x0:x1])
