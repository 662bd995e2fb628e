"""Pictures printed on US plates beside or behind the characters: trees, mountains, birds, buildings,
suns, state outlines, abstract logos (Idaho's tree, Louisiana's pelican, Virginia's university
building). None of them is a character; a model must not read them as one (a tree beside ``D`` read
as ``A``, a pelican merged with ``V`` read as ``M``).

Shapes are drawn from ``rng`` only, so the same seed gives the same picture.
"""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

Colour = Tuple[int, int, int]  # typing.Tuple: the runtime tests run on Python 3.8


def _tree(img: np.ndarray, x: int, y: int, w: int, h: int, c: Colour, rng: np.random.Generator) -> None:
    trunk_w = max(1, int(w * rng.uniform(0.08, 0.16)))
    cv2.rectangle(img, (x + (w - trunk_w) // 2, y + int(h * 0.75)), (x + (w + trunk_w) // 2, y + h), c, -1)
    tiers = int(rng.integers(2, 5))
    for i in range(tiers):  # stacked triangles, narrower towards the top
        top = y + int(h * 0.8 * i / tiers)
        bottom = y + int(h * (0.35 + 0.45 * (i + 1) / tiers))
        half = int(w / 2 * (0.45 + 0.55 * (i + 1) / tiers))
        cx = x + w // 2
        cv2.fillPoly(img, [np.array([(cx, top), (cx - half, bottom), (cx + half, bottom)], np.int32)], c)


def _mountains(img: np.ndarray, x: int, y: int, w: int, h: int, c: Colour, rng: np.random.Generator) -> None:
    n = int(rng.integers(3, 8))
    xs = np.linspace(x, x + w, 2 * n + 1)
    ys = [y + h if i % 2 == 0 else y + int(h * rng.uniform(0.0, 0.6)) for i in range(2 * n + 1)]
    ys[0] = ys[-1] = y + int(h * rng.uniform(0.5, 1.0))
    pts = [(int(px), int(py)) for px, py in zip(xs, ys)] + [(x + w, y + h), (x, y + h)]
    cv2.fillPoly(img, [np.array(pts, np.int32)], c)


def _bird(img: np.ndarray, x: int, y: int, w: int, h: int, c: Colour, rng: np.random.Generator) -> None:
    body = (x + w // 2, y + int(h * 0.6))
    cv2.ellipse(img, body, (max(2, int(w * 0.35)), max(2, int(h * 0.18))), float(rng.uniform(-30, 30)), 0, 360, c, -1)
    head = (x + int(w * rng.uniform(0.2, 0.8)), y + int(h * 0.2))
    cv2.line(img, body, head, c, max(1, w // 10))
    cv2.circle(img, head, max(2, w // 8), c, -1)
    tip = (head[0] + int(w * 0.4) * (1 if rng.random() < 0.5 else -1), head[1] + int(h * 0.15))
    cv2.fillPoly(img, [np.array([(head[0], head[1] - 2), (head[0], head[1] + 3), tip], np.int32)], c)
    for leg in (-1, 1):
        cv2.line(img, (body[0] + leg * w // 8, body[1]), (body[0] + leg * w // 6, y + h), c, max(1, w // 16))


def _building(img: np.ndarray, x: int, y: int, w: int, h: int, c: Colour, rng: np.random.Generator,
              ground: Colour) -> None:
    base_top = y + int(h * rng.uniform(0.35, 0.55))
    cv2.rectangle(img, (x, base_top), (x + w, y + h), c, -1)
    for i in range(1, int(rng.integers(3, 6))):  # columns: gaps in the plate colour
        cx = x + int(w * i / 6 * rng.uniform(0.9, 1.1))
        cv2.line(img, (cx, base_top + 3), (cx, y + h - 2), ground, max(1, w // 20))
    if rng.random() < 0.5:
        cv2.fillPoly(img, [np.array([(x, base_top), (x + w // 2, y), (x + w, base_top)], np.int32)], c)
    else:
        cv2.ellipse(img, (x + w // 2, base_top), (w // 3, max(2, base_top - y)), 0, 180, 360, c, -1)


def _sun(img: np.ndarray, x: int, y: int, w: int, h: int, c: Colour, rng: np.random.Generator) -> None:
    centre, r = (x + w // 2, y + h // 2), max(2, int(min(w, h) * 0.28))
    cv2.circle(img, centre, r, c, -1)
    for a in np.linspace(0, 2 * np.pi, int(rng.integers(6, 13)), endpoint=False):
        end = (int(centre[0] + np.cos(a) * min(w, h) / 2), int(centre[1] + np.sin(a) * min(w, h) / 2))
        cv2.line(img, centre, end, c, max(1, r // 4))


def _outline(img: np.ndarray, x: int, y: int, w: int, h: int, c: Colour, rng: np.random.Generator) -> None:
    n = int(rng.integers(8, 20))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radius = rng.uniform(0.55, 1.0, n)
    pts = np.stack([x + w / 2 * (1 + radius * np.cos(angles)), y + h / 2 * (1 + radius * np.sin(angles))], 1)
    cv2.fillPoly(img, [pts.astype(np.int32)], c)


def _logo(img: np.ndarray, x: int, y: int, w: int, h: int, c: Colour, rng: np.random.Generator) -> None:
    for _ in range(int(rng.integers(2, 6))):
        px, py = int(x + rng.uniform(0.1, 0.9) * w), int(y + rng.uniform(0.1, 0.9) * h)
        s = max(2, int(min(w, h) * rng.uniform(0.1, 0.3)))
        if rng.random() < 0.5:
            cv2.circle(img, (px, py), s, c, -1 if rng.random() < 0.7 else max(1, s // 3))
        else:
            cv2.rectangle(img, (px - s, py - s), (px + s, py + s), c, -1)


SHAPES = ("tree", "mountains", "bird", "building", "sun", "outline", "logo")


def draw_picture(img: np.ndarray, box: tuple[int, int, int, int], colour: Colour, ground: Colour,
                 rng: np.random.Generator, shape: str | None = None) -> None:
    """Draw one picture (a random one of ``SHAPES`` unless ``shape``) in ``box`` = (x, y, w, h) of ``img``,
    in place; ``ground`` is the plate colour (for gaps such as a building's columns)."""
    x, y, w, h = box
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, img.shape[1]), min(y + h, img.shape[0])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    shape = SHAPES[rng.integers(len(SHAPES))] if shape is None else shape
    # Drawn on a copy of the box so that nothing lands outside it (a beak, a ray).
    patch = np.ascontiguousarray(img[y0:y1, x0:x1])
    if shape == "building":
        _building(patch, x - x0, y - y0, w, h, colour, rng, ground)
    else:
        {"tree": _tree, "mountains": _mountains, "bird": _bird, "sun": _sun, "outline": _outline,
         "logo": _logo}[shape](patch, x - x0, y - y0, w, h, colour, rng)
    img[y0:y1, x0:x1] = patch


def picture_colour(ink: np.ndarray, rng: np.random.Generator) -> Colour:
    """The characters' ink half of the time (the picture then looks like one more glyph), else any colour."""
    return tuple(int(v) for v in (ink if rng.random() < 0.5 else rng.integers(0, 256, 3)))
