"""What the world puts on and around a plate, for training models that read detector crops.

A detector's box is never exact: crops come 0-30 % loose per side (or cut a little into the plate
frame), and the margin holds the car body, the plate frame with dealer text, neighbouring marks and
the bumper. On the plate itself: registration stickers with small digits (emblems between the
character groups are drawn by ``render_clean`` with ``PlateStyles(emblems=True)``, which knows where the gap is). And
the light: night, infrared, glare, very low contrast. Each effect is drawn from ``rng`` only, so
the same seed gives the same images.
"""
from __future__ import annotations

import cv2
import numpy as np

from .camera import Box, camera_effects_with_box
from .fonts import _paste, _render_text, font_paths
from .plates import DIGITS, LETTERS, render
from .styles import PlateStyles

DEALERS = ("AUTO MALL", "HONDA OF", "TOYOTA", "FORD", "CHEVROLET", "KIA", "NISSAN", "DRIVE", "MOTORS",
           "AUTO SALES", "SUBARU", "CARMAX", "DEALER", "MAZDA", "JEEP")


def _text(rng: np.random.Generator, n: int, alphabet: str = LETTERS + DIGITS) -> str:
    return "".join(alphabet[i] for i in rng.integers(len(alphabet), size=n))


def stickers(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A registration sticker with small digits in a top corner, above the characters (not read)."""
    fonts = font_paths()
    if rng.random() >= 0.35 or not fonts:
        return img
    img = img.copy()
    h, w = img.shape[:2]
    sw, sh = int(w * rng.uniform(0.08, 0.14)), int(h * rng.uniform(0.1, 0.17))
    x = int(rng.integers(2, 6)) if rng.random() < 0.5 else w - sw - int(rng.integers(2, 6))
    y = int(rng.integers(2, 5))
    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    cv2.rectangle(img, (x, y), (x + sw, y + sh), bg, -1)
    digits = _render_text(_text(rng, int(rng.integers(1, 3)), DIGITS), fonts[0], 24, (0, 0, 0))
    ink = (0, 0, 0) if sum(bg) > 380 else (255, 255, 255)
    _paste(img, digits, x + 1, y + 1, sw - 2, sh - 2, ink)
    return img


# Share of crops with part of a neighbouring mark at the border. The marks teach the model to skip
# what a loose box catches, and also to skip a real glyph touching the edge of a tight crop (models README).
BORDER_MARKS = 0.25
# How far a drawn crop may cut into the plate per side (fraction of the plate); --tight-margin sets it.
TIGHT_MARGIN = 0.03


def surroundings(img: np.ndarray, rng: np.random.Generator, max_margin: float = 0.3,
                 border_marks: float = BORDER_MARKS) -> np.ndarray:
    """The plate as a detector crops it: independent margins of -3..``max_margin`` of its size per side,
    filled with a car body, often a plate frame with dealer text, and (``border_marks`` of the time)
    part of a mark at the crop border."""
    return surroundings_with_box(img, rng, max_margin, border_marks)[0]


def surroundings_with_box(img: np.ndarray, rng: np.random.Generator, max_margin: float = 0.3,
                          border_marks: float = BORDER_MARKS,
                          margins: tuple[float, float, float, float] | None = None,
                          tight: float = TIGHT_MARGIN) -> tuple[np.ndarray, Box]:
    """``surroundings``, and where ``img`` lies in the crop (x0, y0, x1, y1 in pixels; beyond the
    crop's edges where the crop cuts into the plate). ``margins`` (left, right, top, bottom, fractions
    of the plate) fixes them instead of drawing them; drawn, each lies between ``-tight`` (cut into the
    plate) and ``max_margin``."""
    h, w = img.shape[:2]
    if margins is None:
        left, right = (int(w * rng.uniform(-tight, max_margin)) for _ in range(2))
        top, bottom = (int(h * rng.uniform(-tight, max_margin)) for _ in range(2))
    else:
        left, right, top, bottom = (int(size * m) for size, m in zip((w, w, h, h), margins))
    pad = [max(0, v) for v in (top, bottom, left, right)]
    H, W = h + pad[0] + pad[1], w + pad[2] + pad[3]
    body = rng.integers(0, 256, 3).astype(np.float32)
    grad = np.linspace(-1, 1, H, dtype=np.float32)[:, None, None] * rng.uniform(-60, 60, 3)
    canvas = np.clip(body + grad + rng.normal(0, 6, (H, W, 3)), 0, 255).astype(np.uint8)
    if rng.random() < 0.4:  # bumper edge or body line across the margin
        y = int(rng.integers(0, H))
        cv2.line(canvas, (0, y), (W, y + int(rng.integers(-5, 6))), tuple(int(v) for v in rng.integers(0, 256, 3)),
                 int(rng.integers(2, 8)))
    y0, x0 = pad[0], pad[2]
    if rng.random() < 0.6:  # plate frame (dark, chrome or coloured), wider at top and bottom
        fw, fh = int(w * rng.uniform(0.02, 0.06)), int(h * rng.uniform(0.08, 0.25))
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.rectangle(canvas, (max(0, x0 - fw), max(0, y0 - fh)), (min(W, x0 + w + fw), min(H, y0 + h + fh)), color, -1)
        fonts = font_paths()
        if fonts and rng.random() < 0.7:  # dealer text on the frame: must not be read
            ink = (255, 255, 255) if sum(color) < 380 else (0, 0, 0)
            m = _render_text(DEALERS[rng.integers(len(DEALERS))], fonts[rng.integers(len(fonts))], 24, ink)
            th = max(3, int(fh * 0.7))
            tw = min(w, int(m.shape[1] * th / m.shape[0]))
            ty = y0 + h + (fh - th) // 2 if rng.random() < 0.6 else y0 - fh + (fh - th) // 2
            _paste(canvas, m, x0 + (w - tw) // 2, ty, tw, th, ink)
    canvas[y0:y0 + h, x0:x0 + w] = img
    crop = canvas[max(0, -top):H - max(0, -bottom), max(0, -left):W - max(0, -right)]
    if rng.random() < border_marks:  # part of a large mark at the crop border (a neighbouring letter, an edge)
        crop = _border_mark(crop.copy(), rng)
    return crop, (float(left), float(top), float(left + w), float(top + h))


def plates_in_context(layout: str, n: int, seed: int, context: float = 0.3,
                      graphics: float = 0.0) -> list[tuple[np.ndarray, Box, str]]:
    """``n`` synthetic plates of ``layout`` with ``context`` of surroundings per side, light and camera
    effects as training draws them: (image, plate box x0, y0, x1, y1, text), to cut at any margin up to
    ``context`` (held-out loose crops, e.g. to choose a reframing margin: ``lpr-edge framing``);
    ``graphics``: share of US plates with a printed picture (``render_clean``)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        plate = render(rng, layout, styles=PlateStyles(graphics=graphics))
        img, box = surroundings_with_box(stickers(plate.image, rng), rng, border_marks=0.0, margins=(context,) * 4)
        img, box = camera_effects_with_box(light(img, rng), box, rng, float(rng.uniform(0.3, 1.0)), margins=False)
        out.append((img, box, plate.text))
    return out


def _border_mark(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    fonts = font_paths()
    if not fonts:
        return crop
    h, w = crop.shape[:2]
    ink = tuple(int(v) for v in rng.integers(0, 256, 3))
    m = _render_text(_text(rng, 1), fonts[rng.integers(len(fonts))], 64, ink)
    gh = int(h * rng.uniform(0.4, 0.9))
    gw = int(m.shape[1] * gh / m.shape[0])
    x = -int(gw * rng.uniform(0.5, 0.85)) if rng.random() < 0.5 else w - int(gw * rng.uniform(0.15, 0.5))
    _paste(crop, m, x, int(rng.integers(0, max(1, h - gh))), gw, gh, ink)
    return crop


def light(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Night, infrared, glare or very low contrast (each now and then)."""
    f = img.astype(np.float32)
    r = rng.random()
    if r < 0.08:  # infrared camera: grey, bright retro-reflective plate, dark surroundings
        g = f.mean(axis=2, keepdims=True)
        f = np.repeat(np.clip((g - 60) * rng.uniform(1.2, 1.8), 0, 255), 3, axis=2)
    elif r < 0.16:  # night: dark-grey glyphs on a dark-grey plate
        f = 20 + (f - f.mean()) * rng.uniform(0.15, 0.35) + rng.uniform(10, 50)
    elif r < 0.24:  # very low contrast in daylight (haze, dirt)
        f = f.mean() + (f - f.mean()) * rng.uniform(0.2, 0.45)
    if rng.random() < 0.12:  # glare: a soft bright ellipse
        h, w = f.shape[:2]
        mask = np.zeros((h, w), np.float32)
        cv2.ellipse(mask, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                    (int(w * rng.uniform(0.1, 0.4)), int(h * rng.uniform(0.1, 0.5))), float(rng.uniform(0, 180)),
                    0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, w * 0.05))
        f = f + mask[..., None] * rng.uniform(80, 200)
    return np.clip(f, 0, 255).astype(np.uint8)


def world_effects(img: np.ndarray, rng: np.random.Generator, on_plate: bool = True,
                  border_marks: float = BORDER_MARKS) -> np.ndarray:
    """Stickers (synthetic plates only: ``on_plate``; emblems come from ``render_clean`` with
    ``PlateStyles(emblems=True)``), detector-style surroundings, then light."""
    if on_plate:
        img = stickers(img, rng)
    return light(surroundings(img, rng, border_marks=border_marks), rng)
