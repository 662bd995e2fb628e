"""What a detector crop from a real camera does to a plate (the effects every training sample gets)."""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

Box = Tuple[float, float, float, float]  # the plate's x0, y0, x1, y1 in pixels of the image it is in


def camera_effects(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0,
                   margins: bool = True) -> np.ndarray:
    """What a detector crop from a real camera does to a plate.

    Loose margins around the plate (0-15% of its size, filled with scene-like texture; skipped with
    ``margins=False`` for crops that have their surroundings already), small rotation, shear and
    perspective, downscaling to 30-130 px wide, blur, noise, JPEG artefacts, brightness/contrast
    changes and night-time darkening. ``strength`` 0 returns the input.
    """
    h, w = img.shape[:2]
    return camera_effects_with_box(img, (0.0, 0.0, float(w), float(h)), rng, strength, margins)[0]


def camera_effects_with_box(img: np.ndarray, box: Box, rng: np.random.Generator, strength: float = 1.0,
                            margins: bool = True) -> tuple[np.ndarray, Box]:
    """``camera_effects``, also following the plate's ``box`` (pixels of ``img``) to the result:
    for those who need to know where the plate went (margin curves). Same draws, same image."""
    if strength <= 0:
        return img, box
    img, (dx, dy) = _margins(img, rng, strength, margins)
    box = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
    img, box = _geometry(img, box, rng, strength)
    h, w = img.shape[:2]
    img = _resolution_and_blur(img, rng, strength)
    sx, sy = img.shape[1] / w, img.shape[0] / h
    box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    img = _photometric(img, rng, strength)
    return _jpeg(img, rng, strength), box


def _margins(img: np.ndarray, rng: np.random.Generator, strength: float,
             enabled: bool) -> tuple[np.ndarray, tuple[int, int]]:
    """The image in loose margins, and where its top-left corner went."""
    h, w = img.shape[:2]
    mx = int(w * rng.uniform(0.0, 0.15) * strength)
    my = int(h * rng.uniform(0.0, 0.18) * strength)
    if not (enabled and (mx or my)):
        return img, (0, 0)
    base = rng.integers(20, 230)
    texture = rng.normal(0, 40, (max(2, (h + 2 * my) // 8), max(2, (w + 2 * mx) // 8), 1))
    tint = rng.normal(0, 12, 3)
    surround = np.clip(base + texture + tint, 0, 255).astype(np.uint8)
    surround = cv2.resize(surround, (w + 2 * mx, h + 2 * my), interpolation=cv2.INTER_LINEAR)
    surround[my:my + h, mx:mx + w] = img
    return surround, (mx, my)


def _geometry(img: np.ndarray, box: Box, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, Box]:
    """Rotation + shear + perspective jitter, keeping the plate in frame; the box becomes the
    bounds of its warped corners."""
    h, w = img.shape[:2]
    ang = rng.normal(0, 3.0 * strength)
    shear = rng.normal(0, 0.08 * strength)
    jitter = 0.04 * strength
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-jitter, jitter, (4, 2)).astype(np.float32) * np.float32([w, h])
    P = cv2.getPerspectiveTransform(src, dst)
    A = cv2.getRotationMatrix2D((w / 2, h / 2), ang, 1.0)
    A = np.vstack([A, [0, 0, 1]]) @ np.array([[1, shear, -shear * h / 2], [0, 1, 0], [0, 0, 1]])
    M = A @ P
    x0, y0, x1, y1 = box
    corners = cv2.perspectiveTransform(np.float32([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]), M)[0]
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    warped = cv2.warpPerspective(img, M, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return warped, (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def _resolution_and_blur(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Detectors often hand over small crops; then Gaussian or motion blur."""
    h, w = img.shape[:2]
    if rng.random() < 0.7 * strength:
        tw = int(rng.uniform(30, 130))
        th = max(8, int(round(tw * h / w)))
        img = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)
    r = rng.random()
    if r < 0.25 * strength:
        k = int(rng.choice([3, 5]))
        img = cv2.GaussianBlur(img, (k, k), 0)
    elif r < 0.35 * strength:
        k = int(rng.integers(3, 6))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        img = cv2.filter2D(img, -1, kernel)
    return img


def _photometric(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Brightness/contrast/colour cast, night, noise, grey-ish cameras."""
    f = img.astype(np.float32)
    contrast = rng.uniform(1 - 0.45 * strength, 1 + 0.3 * strength)
    bright = rng.normal(0, 25 * strength)
    cast = rng.normal(0, 10 * strength, 3)
    f = (f - 128) * contrast + 128 + bright + cast
    if rng.random() < 0.15 * strength:  # night: dark, low contrast, more noise
        f = f * rng.uniform(0.35, 0.7)
    if rng.random() < 0.5 * strength:
        f += rng.normal(0, rng.uniform(2, 12) * strength, f.shape)
    if rng.random() < 0.3 * strength:
        g = f.mean(axis=2, keepdims=True)
        f = g + (f - g) * rng.uniform(0, 0.5)
    return np.clip(f, 0, 255).astype(np.uint8)


def _jpeg(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    if rng.random() < 0.6 * strength:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 90))])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return img
