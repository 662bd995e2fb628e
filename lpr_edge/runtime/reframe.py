"""Re-reading loose crops: cut again around the characters the first reading found, read once more.

A detector's box is often loose (0-30 % of the plate per side). The margin then holds frame text, car
body and neighbouring marks, and the characters shrink below the size the model was trained on; the
model reads worse the looser the crop. The first reading's best path says where the characters are:
its first and last non-blank time step. A model's spec may carry ``framing``: where its characters
sit in the crops it was trained on (per reading length, the median first and last non-blank step
as fractions of the crop width; fitted by :func:`fit_spans`, ``lpr-edge framing``). A crop whose
characters sit narrower than that is cut again so that they sit as in training, plus ``margin`` of
the plate's estimated width per side (the height in the crop's own aspect, centred), and read a
second time. A crop whose characters sit wider (cut into the plate's margin) is extended the same
way if the framing's ``pad`` says how (edge pixels replicated, or the crop's median colour), else
kept. Empty readings, reading lengths the framing does not know and crops the cut would hardly
change keep their first reading; so do readings at least as confident as the framing's
``reread_below`` (if it has one; fitted by ``lpr-edge framing``; compared with the product of the
character confidences, whatever the plate confidence is): a sure first reading is rarely
changed for the better by a second, and skipping it saves most of the second passes.
"""
from __future__ import annotations

from typing import Mapping, Sequence, Tuple

import cv2
import numpy as np

from ..spec import FRAMING_PADS as PADS  # how a crop tighter than training is extended  # noqa: F401
from .decode import PlateResult, char_product
from .preprocess import within_limit

Window = Tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels of the crop

MARGINS = (0.0, 0.05, 0.1)   # the margins `lpr-edge framing` chooses from (lpr_edge.toolchain.framing)
MIN_CHANGE = 0.03            # cuts that keep more than 97 % of both sides are not worth a second pass
GATES = (0.9, 0.95, 0.98, 0.99, 0.995, 0.999)  # the reread_below values `lpr-edge framing` chooses from


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
    sure = framing.get("reread_below") or 2.0  # a confidence never reached: every crop may be re-read
    out: list[Window | None] = [None] * len(results)
    # most readings are sure or of a length the framing does not know: only the others are looked at
    unsure = [i for i, r in enumerate(results) if str(len(r.text)) in spans and char_product(r) < sure]
    if not unsure:
        return out
    start, end, anything = char_spans(indices[unsure], blank)
    for i, a, b, found in zip(unsure, start.tolist(), end.tolist(), anything.tolist()):
        if not found:
            continue
        shape, ref = shapes[i], spans[str(len(results[i].text))]
        height, width = shape[:2]
        a0, b0 = ref
        plate_w = (b - a) * width / (b0 - a0)        # the width at which the characters sit as in training
        plate_x = a * width - a0 * plate_w
        plate_h = plate_w * height / width
        plate_y = (height - plate_h) / 2
        x0, x1 = int(round(plate_x - margin * plate_w)), int(round(plate_x + (1 + margin) * plate_w))
        y0, y1 = int(round(plate_y - margin * plate_h)), int(round(plate_y + (1 + margin) * plate_h))
        beyond = (max(0, -x0) + max(0, x1 - width)) / width
        if framing.get("pad", "none") != "none" and beyond > MIN_CHANGE:   # tighter than training: extend the crop
            out[i] = (x0, y0, x1, y1)
            continue
        x0, x1, y0, y1 = max(0, x0), min(width, x1), max(0, y0), min(height, y1)
        keeps = min((x1 - x0) / width, (y1 - y0) / height)
        out[i] = None if keeps > 1 - MIN_CHANGE or x1 - x0 < 8 or y1 - y0 < 4 else (x0, y0, x1, y1)
    return out


def cut(crop: np.ndarray, window: Window, pad: str = "none") -> np.ndarray:
    """The crop's pixels inside ``window`` (contiguous, as the resize wants them); where the window
    reaches beyond the crop, the crop is extended as ``pad`` says (``replicate``: its edge pixels;
    ``median``: its median colour)."""
    height, width = crop.shape[:2]
    x0, y0, x1, y1 = window
    inner = np.ascontiguousarray(crop[max(0, y0):min(height, y1), max(0, x0):min(width, x1)])
    sides = (max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width))
    if not any(sides) or pad == "none":
        return inner
    if pad == "replicate":
        return within_limit(cv2.copyMakeBorder(inner, *sides, cv2.BORDER_REPLICATE))
    colour = np.median(crop.reshape(-1, crop.shape[2] if crop.ndim == 3 else 1), axis=0)
    return within_limit(cv2.copyMakeBorder(inner, *sides, cv2.BORDER_CONSTANT, value=[float(v) for v in colour]))
