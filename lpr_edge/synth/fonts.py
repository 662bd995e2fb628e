"""Fonts from pip packages and drawing text masks into images (shared by every synthetic layout).

Fonts come from pip packages (matplotlib's DejaVu always; the ``train`` extra's pinned ``font-*``
packages when installed), so a fresh machine renders the same plates.
"""
from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path

import cv2
import numpy as np


@functools.lru_cache(maxsize=2)
def font_paths(extras: bool = True) -> tuple[str, ...]:
    """TrueType/OpenType fonts from pip packages, in a fixed order: matplotlib's DejaVu always, plus
    the ``train`` extra's fonts when ``extras`` and installed (more glyph shapes: plates misread Z/7,
    I/1, W/M with the first three families only)."""
    paths: list[str] = []
    mpl = importlib.util.find_spec("matplotlib")
    if mpl and mpl.origin:
        ttf = Path(mpl.origin).parent / "mpl-data" / "fonts" / "ttf"
        paths += [str(ttf / n) for n in ("DejaVuSans-Bold.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSans.ttf")]
    extra_fonts = (("font_fjallaone", ("FjallaOne-Regular.ttf",)),
                   ("font_roboto", ("Roboto-Bold.ttf", "Roboto-Black.ttf", "Roboto-Medium.ttf")),
                   ("font_lato", ("Lato-Bold.ttf", "Lato-Black.ttf")),
                   ("font_source_sans_pro", ("SourceSansPro-Bold.ttf", "SourceSansPro-Semibold.ttf")),
                   ("font_hanken_grotesk", ("HankenGrotesk-Bold.otf",)),
                   ("font_manrope", ("Manrope-Bold.ttf",)),
                   ("font_rhd", ("RedHatDisplay-Bold.ttf", "RedHatDisplay-Medium.ttf")))
    for mod, names in extra_fonts if extras else ():
        spec = importlib.util.find_spec(mod)
        if spec and spec.origin:
            paths += [str(Path(spec.origin).parent / "files" / n) for n in names]
    return tuple(p for p in paths if os.path.exists(p))


@functools.lru_cache(maxsize=64)
def _font(path: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size)


def _render_text(text: str, font_path: str, height: int, color: tuple[int, int, int]) -> np.ndarray:
    """Render ``text`` as an RGBA-like (alpha only) mask of the given cap height."""
    from PIL import Image, ImageDraw

    font = _font(font_path, max(8, height))
    left, top, right, bottom = font.getbbox(text)
    w, h = max(1, right - left), max(1, bottom - top)
    img = Image.new("L", (w + 4, h + 4), 0)
    ImageDraw.Draw(img).text((2 - left, 2 - top), text, font=font, fill=255)
    return np.asarray(img)


# OpenCV's Hershey stroke fonts without serifs: drawn thick they are monoline glyphs close to the
# embossed fonts of many US plates, unlike any of the TrueType faces above (``render_clean(stroke_fonts=)``).
STROKE_FACES = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN)


@functools.lru_cache(maxsize=1)
def _put_text_honours_thickness() -> bool:
    """OpenCV 4 draws large Hershey text as thick as asked; OpenCV 5.0 (the Python 3.8 CI venv) drew
    it the same at thickness 4 and 10, so there the stroke is thickened by dilation instead."""
    def ink(thickness: int) -> int:
        img = np.zeros((100, 100), np.uint8)
        scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, 64, thickness)
        cv2.putText(img, "I", (30, 80), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness, cv2.LINE_AA)
        return int((img > 127).sum())
    return ink(10) > 1.5 * ink(4)


def _render_stroke_text(text: str, face: int, height: int, stroke: float) -> np.ndarray:
    """``_render_text`` with a Hershey stroke font: an alpha mask of ``text`` of about ``height`` px cap
    height, lines ``stroke`` of that height thick."""
    thickness = max(1, int(round(height * stroke)))
    scale = cv2.getFontScaleFromHeight(face, height, thickness)
    (w, h), base = cv2.getTextSize(text, face, scale, thickness)
    img = np.zeros((h + base + 2 * thickness + 4, w + 2 * thickness + 4), np.uint8)
    cv2.putText(img, text, (thickness + 2, h + thickness + 2), face, scale, 255, thickness, cv2.LINE_AA)
    if not _put_text_honours_thickness():
        img = cv2.dilate(img, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (thickness, thickness)))
    rows, cols = np.flatnonzero(img.max(axis=1)), np.flatnonzero(img.max(axis=0))
    if not rows.size:
        return img
    return img[max(0, rows[0] - 2):rows[-1] + 3, max(0, cols[0] - 2):cols[-1] + 3]


def _paste(canvas: np.ndarray, mask: np.ndarray, x: int, y: int, w: int, h: int, color) -> None:
    """Alpha-blend a resized mask into ``canvas`` at (x, y) with size (w, h), clipped."""
    if w < 1 or h < 1:
        return
    m = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    m = m[y0 - y:y1 - y, x0 - x:x1 - x, None]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (region * (1 - m) + np.array(color, np.float32) * m).astype(np.uint8)


@functools.lru_cache(maxsize=64)
def _stroke_width(font_path: str, height: int) -> int:
    """The font's vertical stroke in pixels: half the ink across an ``H`` a quarter down (above its bar)."""
    mask = _render_text("H", font_path, height, (255, 255, 255))
    row = mask[(mask.shape[0] - 4) // 4 + 2]  # _render_text pads 2 px on each side
    return max(1, int(round((row > 127).sum() / 2)))


# Which corners of the plate font's round letters are rounded (top-left, top-right, bottom-right,
# bottom-left): O all four, D only the right two (its stem is square).
PLATE_GLYPH_CORNERS = {"O": (True, True, True, True)}


def _render_text_plate_glyphs(text: str, font_path: str, height: int,
                              shapes: dict[str, tuple[float, float]], plain: str = "") -> np.ndarray:
    """``_render_text``, but each character in ``shapes`` (``O``: ``(width_ratio, corner)``) drawn
    as a plate font draws it: a narrow rectangle ``width_ratio`` of the cap height wide, in the font's
    stroke, its corners (``PLATE_GLYPH_CORNERS``) rounded by ``corner`` of the width, instead of the
    font's round glyph, which sits far from the plate's (a plate ``O`` is close to a plate ``D``: only
    the corners differ). Each character in ``plain`` is a plain bar of the font's stroke and cap height,
    centred in the font's own advance for it (digits are usually tabular: a full cell), as some US plate
    fonts draw their ``1`` (Massachusetts') and sans faces their ``I``."""
    from PIL import Image, ImageDraw

    font = _font(font_path, max(8, height))
    h_left, cap_top, h_right, cap_bottom = font.getbbox("H")
    cap = cap_bottom - cap_top
    stroke = _stroke_width(font_path, height)
    widths = {c: max(3 * stroke, int(round(cap * ratio))) for c, (ratio, _) in shapes.items()}
    gap = max(1, int(round(font.getlength("H") - (h_right - h_left))))  # the H's side bearings
    advances = [widths[c] + gap if c in shapes else font.getlength(c) for c in text]
    drawn = [b for b, c in zip((font.getbbox(c) for c in text), text) if c not in shapes and c not in plain]
    top = min([b[1] for b in drawn] + [cap_top])
    bottom = max([b[3] for b in drawn] + [cap_bottom])
    img = Image.new("L", (int(sum(advances)) + 4, bottom - top + 4), 0)
    draw = ImageDraw.Draw(img)
    x = 2.0
    for c, adv in zip(text, advances):
        if c in plain:
            x0, y0 = int(round(x + (adv - stroke) / 2)), 2 + cap_top - top
            draw.rectangle((x0, y0, x0 + stroke - 1, y0 + cap - 1), fill=255)
        elif c in shapes:
            w, x0, y0 = widths[c], int(round(x + gap / 2)), 2 + cap_top - top
            draw.rounded_rectangle((x0, y0, x0 + w - 1, y0 + cap - 1), radius=int(w * shapes[c][1]),
                                   outline=255, width=stroke, corners=PLATE_GLYPH_CORNERS[c])
        else:
            draw.text((x, 2 - top), c, font=font, fill=255)
        x += adv
    a = np.asarray(img)
    cols = np.flatnonzero(a.max(axis=0))
    return a[:, max(0, cols[0] - 2):cols[-1] + 3] if cols.size else a
