"""Clean synthetic plates (US-like and Brazilian layouts), deterministic under a seed.

Used for training the default model, for the bench's built-in sample set, for calibration data
when no real images are at hand, and for the README's sample plates. Fonts come from pip packages
(matplotlib's DejaVu always; the ``train`` extra's pinned ``font-*`` packages — Fjalla One, Roboto,
Lato, Source Sans Pro, Hanken Grotesk, Manrope, Red Hat Display — when installed), so a fresh
machine renders the same plates.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .fonts import STROKE_FACES, _paste, _render_stroke_text, _render_text, _render_text_plate_glyphs, font_paths
from .graphics import draw_picture, picture_colour
from .styles import PlateStyles

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
STATES = (
    "ALABAMA ALASKA ARIZONA ARKANSAS CALIFORNIA COLORADO CONNECTICUT DELAWARE FLORIDA GEORGIA HAWAII "
    "IDAHO ILLINOIS INDIANA IOWA KANSAS KENTUCKY LOUISIANA MAINE MARYLAND MASSACHUSETTS MICHIGAN "
    "MINNESOTA MISSISSIPPI MISSOURI MONTANA NEBRASKA NEVADA OHIO OKLAHOMA OREGON PENNSYLVANIA TENNESSEE "
    "TEXAS UTAH VERMONT VIRGINIA WASHINGTON WISCONSIN WYOMING"
).split()
SLOGANS = ("LAND OF LINCOLN", "SUNSHINE STATE", "EMPIRE STATE", "GARDEN STATE", "FIRST IN FLIGHT",
           "THE LONE STAR STATE", "GREAT LAKES", "DRIVE SAFELY", "AMERICA'S DAIRYLAND", "VACATIONLAND",
           "THE GREAT STATE", "LIVE FREE OR DIE", "ALOHA STATE", "WILD WONDERFUL")
# Plate layouts: L letter, 9 digit, * either, space a visual gap (not in the label).
PATTERNS = ("LLL9999", "LLL 999", "999 LLL", "9LLL999", "LL 9999", "999 9999", "9LL 9999", "LLL9LL",
            "9999 LL", "LL9 9LL", "9L 99999", "99L 999", "LLL 9L9", "****", "*****", "******", "*******",
            "********", "LL 999L", "9LLL99", "L99 9LL")


@dataclass(frozen=True)
class SynthPlate:
    """One rendered plate: a BGR uint8 image and its label (as printed, ``O`` kept)."""

    image: np.ndarray
    text: str


def random_text(rng: np.random.Generator) -> str:
    """A plate string following one of the US-like layouts (spaces mark visual gaps)."""
    pattern = PATTERNS[rng.integers(len(PATTERNS))]
    out = []
    for p in pattern:
        if p == "L":
            out.append(LETTERS[rng.integers(26)])
        elif p == "9":
            out.append(DIGITS[rng.integers(10)])
        elif p == "*":
            out.append((LETTERS + DIGITS)[rng.integers(36)])
        else:
            out.append(" ")
    return "".join(out)


def _emblem_in_gap(canvas: np.ndarray, mask: np.ndarray, cx: int, cy: int, rng: np.random.Generator) -> None:
    """Draw an emblem (disc, star, bar, square) in the widest empty column run of the text mask."""
    empty = mask.max(axis=0) < 40
    w = empty.size
    best, run_start, best_start = 0, None, 0
    for x in range(int(w * 0.2), int(w * 0.8)):
        if empty[x]:
            run_start = x if run_start is None else run_start
            if x - run_start + 1 > best:
                best, best_start = x - run_start + 1, run_start
        else:
            run_start = None
    r = int(min(best * 0.4, mask.shape[0] * 0.25))
    if r < 3:
        return
    x, y = cx + best_start + best // 2, cy + mask.shape[0] // 2 + int(rng.integers(-r, r + 1) // 2)
    color = tuple(int(v) for v in rng.integers(0, 256, 3))
    shape = rng.integers(4)
    if shape == 0:
        cv2.circle(canvas, (x, y), r, color, -1)
    elif shape == 1:
        angles = np.linspace(-np.pi / 2, 3.5 * np.pi, 5, endpoint=False) * 2
        pts = np.stack([x + r * np.cos(angles), y + r * np.sin(angles)], 1).astype(np.int32)
        cv2.fillPoly(canvas, [pts], color)
    elif shape == 2:
        cv2.line(canvas, (x, y - r), (x, y + r), color, max(2, r // 2))
    else:
        cv2.rectangle(canvas, (x - r, y - r), (x + r, y + r), color, -1)


def _us_background(rng: np.random.Generator, H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """Plate colours, gradient wash, faint blobs and border; returns the canvas and the ink colour."""
    dark_plate = rng.random() < 0.15
    if dark_plate:
        bg = rng.integers(10, 90, 3)
        fg = rng.integers(200, 256, 3)
    else:
        bg = rng.integers(170, 256, 3)
        tint = rng.integers(3)
        bg[tint] = min(255, bg[tint] + rng.integers(0, 60))
        fg = rng.integers(0, 90, 3)
        fg[rng.integers(3)] = rng.integers(0, 160)
    canvas = np.empty((H, W, 3), np.uint8)
    canvas[:] = bg
    # Soft gradient / scenery wash, as many US plates have.
    if rng.random() < 0.6:
        grad = np.linspace(0, 1, W if rng.random() < 0.5 else H, dtype=np.float32)
        grad = grad[None, :, None] if grad.size == W else grad[:, None, None]
        tone = rng.integers(-70, 70, 3).astype(np.float32)
        canvas = np.clip(canvas + grad * tone, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(0, 3)):  # faint blobs (logos, scenery)
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        center = (int(rng.integers(0, W)), int(rng.integers(0, H)))
        axes = (int(rng.integers(10, 60)), int(rng.integers(5, 30)))
        overlay = canvas.copy()
        cv2.ellipse(overlay, center, axes, float(rng.integers(0, 180)), 0, 360, c, -1)
        alpha = float(rng.uniform(0.1, 0.35))
        canvas = cv2.addWeighted(overlay, alpha, canvas, 1 - alpha, 0)
    if rng.random() < 0.7:
        cv2.rectangle(canvas, (2, 2), (W - 3, H - 3), tuple(int(v) for v in fg), int(rng.integers(1, 4)))
    return canvas, fg


def _header_and_footer(canvas: np.ndarray, fg: np.ndarray, fonts, rng: np.random.Generator) -> None:
    """State name above and slogan below the characters: small text, not part of the label."""
    H, W = canvas.shape[:2]
    small_font = fonts[rng.integers(len(fonts))]
    if rng.random() < 0.85:
        header = STATES[rng.integers(len(STATES))]
        hc = tuple(int(v) for v in (fg if rng.random() < 0.5 else rng.integers(0, 200, 3)))
        m = _render_text(header, small_font, 24, hc)
        hh = int(rng.integers(10, 20))
        hw = min(W - 20, int(m.shape[1] * hh / m.shape[0] * rng.uniform(0.8, 1.3)))
        _paste(canvas, m, (W - hw) // 2 + int(rng.integers(-10, 11)), int(rng.integers(3, 9)), hw, hh, hc)
    if rng.random() < 0.5:
        footer = SLOGANS[rng.integers(len(SLOGANS))]
        m = _render_text(footer, small_font, 20, (0, 0, 0))
        fh = int(rng.integers(7, 13))
        fw = min(W - 30, int(m.shape[1] * fh / m.shape[0]))
        _paste(canvas, m, (W - fw) // 2, H - fh - int(rng.integers(3, 8)), fw, fh, tuple(int(v) for v in fg))


def _picture_beside_or_behind(canvas: np.ndarray, fg: np.ndarray, cx: int, cy: int, cw: int, ch: int,
                              rng: np.random.Generator) -> tuple[int, int]:
    """A printed picture (``graphics.draw_picture``) beside the characters, which move over to make room
    (7 in 10), or faded behind them; returns the characters' new ``cx, cw``."""
    H, W = canvas.shape[:2]
    ground = tuple(int(v) for v in canvas[H // 2, 2])
    colour = picture_colour(fg, rng)
    if rng.random() < 0.7:
        gw, gh = int(W * rng.uniform(0.12, 0.24)), int(H * rng.uniform(0.45, 0.85))
        gy = int(np.clip(cy + ch // 2 - gh // 2 + rng.integers(-6, 7), 0, H - gh))
        gap = int(rng.integers(-3, 9))  # negative: the picture reaches under the first/last glyph
        edge = int(rng.integers(3, 11))
        cw = min(cw, W - edge - gw - gap - int(rng.integers(4, 11)))
        left = rng.random() < 0.6
        draw_picture(canvas, (edge if left else W - edge - gw, gy, gw, gh), colour, ground, rng)
        return (edge + gw + gap if left else W - edge - gw - gap - cw), cw
    gw, gh = int(W * rng.uniform(0.2, 0.6)), int(H * rng.uniform(0.5, 1.0))
    overlay = canvas.copy()
    draw_picture(overlay, (int(rng.integers(0, W - gw)), int(rng.integers(0, H - gh + 1)), gw, gh), colour, ground, rng)
    alpha = float(rng.uniform(0.3, 0.8))
    canvas[:] = cv2.addWeighted(overlay, alpha, canvas, 1 - alpha, 0)
    return cx, cw


def render_clean(rng: np.random.Generator, text: str | None = None, extras: bool = True,
                 styles: PlateStyles = PlateStyles()) -> SynthPlate:
    """A flat, frontal plate of 2:1 aspect (about 200x100 px) before any camera effects.

    ``extras=False`` uses only the fonts every install has, so the result is the same everywhere.
    ``styles`` (:class:`PlateStyles`, US fields):
    ``emblems``: often put an emblem or separator in the gap between character groups (as many
    states do; it must not be read); off, the same seed gives the same plates as before.
    ``graphics``: share of plates with a printed picture beside or behind the characters (a tree, a
    bird, a building...; ``lpr_edge.synth.graphics``).
    ``stroke_fonts``: share of plates whose characters are drawn in a thick Hershey stroke font
    (``fonts.STROKE_FACES``) instead of a TrueType face.
    ``plain_ones``: share of plates (of those with a ``1``, in a TrueType face) whose ``1`` is a plain
    bar, as a sans face draws its ``I`` (Massachusetts plates, for one, draw their ``1`` so).
    A share of 0 draws nothing from ``rng`` for its style.
    """
    fonts = font_paths(extras)
    if not fonts:
        raise RuntimeError("no TrueType font found: install matplotlib (pip install matplotlib)")
    text = random_text(rng) if text is None else text
    H, W = 100, 200
    canvas, fg = _us_background(rng, H, W)
    _header_and_footer(canvas, fg, fonts, rng)
    # Main characters: tall, often condensed, centred in the middle band.
    font = fonts[rng.integers(len(fonts))]
    body = text.replace(" ", " " * int(rng.integers(1, 3)))
    if styles.stroke_fonts and rng.random() < styles.stroke_fonts:
        face = STROKE_FACES[rng.integers(len(STROKE_FACES))]
        mask = _render_stroke_text(body, face, 64, float(rng.uniform(0.06, 0.16)))
    elif styles.plain_ones and "1" in text and rng.random() < styles.plain_ones:
        mask = _render_text_plate_glyphs(body, font, 64, {}, plain="1")
    else:
        mask = _render_text(body, font, 64, (0, 0, 0))
    ch = int(rng.integers(38, 56))
    stretch = rng.uniform(0.65, 1.15)
    cw = int(mask.shape[1] * ch / mask.shape[0] * stretch)
    cw = min(cw, W - int(rng.integers(8, 24)))
    cx = (W - cw) // 2 + int(rng.integers(-6, 7))
    cy = (H - ch) // 2 + int(rng.integers(-4, 9))
    if styles.graphics and rng.random() < styles.graphics:
        cx, cw = _picture_beside_or_behind(canvas, fg, cx, cy, cw, ch, rng)
    _paste(canvas, mask, cx, cy, cw, ch, tuple(int(v) for v in fg))
    if styles.emblems and " " in text and rng.random() < 0.6:
        _emblem_in_gap(canvas, cv2.resize(mask, (cw, ch)), cx, cy, rng)
    if rng.random() < 0.3 and cx > 16:  # registration sticker in a free corner
        cv2.rectangle(canvas, (4, 6), (4 + int(rng.integers(8, 14)), 18),
                      tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
    label = text.replace(" ", "")
    return SynthPlate(canvas, label)


BR_CITIES = ("PR-CURITIBA", "PR-LONDRINA", "PR-MARINGA", "PR-CASCAVEL", "SP-SAO PAULO", "SP-CAMPINAS",
             "RJ-RIO DE JANEIRO", "MG-BELO HORIZONTE", "BA-SALVADOR", "RS-PORTO ALEGRE", "SC-JOINVILLE",
             "SC-FLORIANOPOLIS", "GO-GOIANIA", "PE-RECIFE", "CE-FORTALEZA", "DF-BRASILIA", "PA-BELEM",
             "AM-MANAUS", "ES-VITORIA", "MT-CUIABA", "PR-PONTA GROSSA", "PR-FOZ DO IGUACU")
LAYOUTS = ("us", "br")
BR_SEPARATORS = "-.  "  # hyphen, dot, gap (the rendered dot sits low; a mid dot, tried in run v3, did not help)
# Letters of Brazilian synthetic plates: the round/confusable ones (O D Q C G) twice as often, since
# a region's real crops may hold few of them at some positions (real Parana crops: no leading O).
BR_LETTERS = np.array(list(LETTERS))
BR_LETTER_WEIGHTS = np.array([2.0 if c in "ODQCG" else 1.0 for c in LETTERS]) / sum(2.0 if c in "ODQCG" else 1.0
                                                                                     for c in LETTERS)


def render_br(rng: np.random.Generator, text: str | None = None, extras: bool = True,
              styles: PlateStyles = PlateStyles()) -> SynthPlate:
    """An old Brazilian plate (3:1, about 300x100 px): city strip on top, ``LLL-9999`` below; grey
    with dark characters (private cars) or red with white ones (commercial). With probability
    ``styles.plate_o`` its O is the plate font's narrow rounded rectangle (``_render_text_plate_glyphs``)."""
    fonts = font_paths(extras)
    if not fonts:
        raise RuntimeError("no TrueType font found: install matplotlib (pip install matplotlib)")
    if text is None:
        letters = "".join(rng.choice(BR_LETTERS, 3, p=BR_LETTER_WEIGHTS))
        text = letters + "".join(DIGITS[i] for i in rng.integers(10, size=4))
    H, W = 100, 300
    if rng.random() < 0.75:
        bg = np.full(3, rng.integers(140, 225)) + rng.integers(-12, 13, 3)
        fg = rng.integers(0, 60, 3)
    else:
        bg = np.array([rng.integers(20, 70), rng.integers(20, 70), rng.integers(150, 230)])  # BGR red
        fg = rng.integers(200, 256, 3)
    canvas = np.empty((H, W, 3), np.uint8)
    canvas[:] = np.clip(bg, 0, 255)
    color = tuple(int(v) for v in fg)
    cv2.rectangle(canvas, (2, 2), (W - 3, H - 3), color, int(rng.integers(1, 4)))
    font = fonts[rng.integers(len(fonts))]
    city = BR_CITIES[rng.integers(len(BR_CITIES))]
    m = _render_text(city.replace("-", " - " if rng.random() < 0.5 else "-"), font, 24, color)
    ch = int(rng.integers(12, 20))
    cw = min(W - 40, int(m.shape[1] * ch / m.shape[0]))
    _paste(canvas, m, (W - cw) // 2 + int(rng.integers(-8, 9)), int(rng.integers(4, 10)), cw, ch, color)
    body = f"{text[:3]}{BR_SEPARATORS[rng.integers(len(BR_SEPARATORS))]}{text[3:]}"
    # rng is drawn for the plate glyph only when asked, so plate_o=0 renders the same plates as before
    # the option existed.
    shapes = {}
    if styles.plate_o and rng.random() < styles.plate_o:
        shapes["O"] = (rng.uniform(0.5, 0.7), rng.uniform(0.2, 0.5))
    mask = _render_text_plate_glyphs(body, font, 64, shapes) if shapes else _render_text(body, font, 64, color)
    bh = int(rng.integers(50, 66))
    # Real Brazilian glyphs are narrow (O is a tall rounded rectangle, close to D); more condensing
    # (0.55-0.95, run v3) read the unseen collection no better.
    bw = min(W - int(rng.integers(10, 30)), int(mask.shape[1] * bh / mask.shape[0] * rng.uniform(0.6, 1.05)))
    _paste(canvas, mask, (W - bw) // 2 + int(rng.integers(-6, 7)), H - bh - int(rng.integers(4, 12)), bw, bh, color)
    return SynthPlate(canvas, text)


def render(rng: np.random.Generator, layout: str = "us", extras: bool = True,
           styles: PlateStyles = PlateStyles()) -> SynthPlate:
    """A clean plate of the given layout (``us`` or ``br``, see render_clean and render_br); each reads
    the fields of ``styles`` for its layout."""
    if layout == "br":
        return render_br(rng, extras=extras, styles=styles)
    return render_clean(rng, extras=extras, styles=styles)
