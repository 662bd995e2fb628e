"""Hundreds of bad or odd crops: only lpr-edge's own errors, and the Recognizer keeps working."""
from __future__ import annotations

import numpy as np
import pytest

from lpr_edge import Recognizer
from lpr_edge.errors import InputError

from ..conftest import BANDS, toy_crop, toy_spec


def bad_crops(rng):
    """A few hundred generated bad or odd inputs."""
    makers = [
        lambda: None, lambda: "crop", lambda: 3.5, lambda: [1, 2, 3],
        lambda: np.zeros((0, int(rng.integers(1, 50)), 3), np.uint8),
        lambda: np.zeros((int(rng.integers(1, 50)), 0), np.uint8),
        lambda: rng.random((10, 20, 3)).astype(np.float32),
        lambda: np.full((10, 20, 3), np.nan, np.float32),
        lambda: np.full((10, 20, 3), np.inf, np.float64),
        lambda: rng.integers(-5, 5, (8, 8, 3)).astype(np.int16),
        lambda: np.zeros((5, 5, 2), np.uint8),
        lambda: np.zeros((2, 5, 5, 3), np.uint8),
        lambda: np.zeros((7,), np.uint8),
        lambda: np.zeros((3, 3, 5), np.uint8),
        lambda: np.lib.stride_tricks.as_strided(np.zeros(3, np.uint8), (30000, 10, 3), (0, 0, 1)),
        lambda: np.array(["a"]),
        lambda: np.zeros((4, 4, 3), bool),
    ]
    return [makers[int(rng.integers(len(makers)))]() for _ in range(300)]


def test_fuzz_recognizer_only_raises_our_errors_and_keeps_working(toy_model_path):
    rng = np.random.default_rng(0)
    spec = toy_spec()
    good = toy_crop(BANDS, spec)
    with Recognizer(toy_model_path, max_batch=4) as rec:
        for bad in bad_crops(rng):
            with pytest.raises(InputError):
                rec.recognize_batch([good, bad] if rng.random() < 0.5 else [bad])
        odd_but_fine = [np.zeros((1, 1), np.uint8), rng.integers(0, 256, (3, 900, 4), dtype=np.uint8),
                        np.ascontiguousarray(rng.integers(0, 256, (50, 20, 3), dtype=np.uint8)[::-1, ::2])]
        assert len(rec.recognize_batch(odd_but_fine)) == 3
        assert rec.recognize(good).text == "ABCA"

