"""Synthetic licence plates, deterministic under a seed.

Used for training, for the bench's built-in sample set, for calibration data when no real images
are at hand, and for the README's sample plates. ``plates`` renders clean plates (US-like and
Brazilian layouts; ``graphics`` draws the pictures printed beside or behind US characters),
``camera`` applies what a camera and a detector crop do to them, ``world``
adds what the world puts around and on a plate (loose crops with car body, frame and dealer text,
neighbouring marks, emblems, stickers, night/IR looks, glare) for training robust models.
"""
from __future__ import annotations

import numpy as np

from .camera import camera_effects
from .plates import (
    BR_CITIES,
    DIGITS,
    LAYOUTS,
    LETTERS,
    PATTERNS,
    SLOGANS,
    STATES,
    SynthPlate,
    font_paths,
    random_text,
    render,
    render_br,
    render_clean,
)
from .styles import PlateStyles

__all__ = ["SynthPlate", "PlateStyles", "render", "render_clean", "render_br", "camera_effects", "generate",
           "font_paths", "random_text", "LETTERS", "DIGITS", "STATES", "SLOGANS", "PATTERNS", "BR_CITIES", "LAYOUTS"]


def generate(n: int, seed: int = 0, effects: float = 1.0, extras: bool = False) -> list[SynthPlate]:
    """``n`` plates with camera effects, the same ones for the same seed on every install
    (core fonts only unless ``extras``)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p = render_clean(rng, extras=extras)
        out.append(SynthPlate(camera_effects(p.image, rng, effects), p.text))
    return out
