"""Thicker or thinner strokes (``lpr_edge.synth.stroke_weight``, ``lpr-edge train --stroke-weight``): the
change on an image with a known answer, its seeding, and the training stream drawing it at the share asked
(and nothing at all when off, so earlier runs' streams reproduce)."""
import numpy as np
import pytest

from lpr_edge import synth
from lpr_edge.synth.stroke_weight import SIZE, change_stroke_weight


def bar_image(height: int = 100) -> np.ndarray:
    """A dark vertical stroke 10 px wide on a light plate, from 20 % to 80 % of the height."""
    img = np.full((height, 200, 3), 230, np.uint8)
    img[height // 5:height * 4 // 5, 95:105] = 20
    return img


def dark_columns(img: np.ndarray) -> int:
    return int((img[img.shape[0] // 2, :, 0] < 128).sum())


def test_erosion_thickens_dark_strokes_and_dilation_thins_them_by_a_share_of_the_height():
    img = bar_image()
    for seed in range(10):
        thick = change_stroke_weight(img, np.random.default_rng(seed), erode=True)
        thin = change_stroke_weight(img, np.random.default_rng(seed), erode=False)
        assert thick.shape == thin.shape == img.shape and thick.dtype == np.uint8
        # kernel 1.5-4 % of 100 px: 2-4 px across, so the 10-px stroke grows or shrinks by 1-3 px
        assert 11 <= dark_columns(thick) <= 14 and 6 <= dark_columns(thin) <= 9
    small = change_stroke_weight(bar_image(20), np.random.default_rng(0), erode=True)   # at least 2 px
    assert dark_columns(small) >= 11 and SIZE[0] < SIZE[1]


def test_either_direction_when_not_asked_and_seeded():
    img = bar_image()
    widths = {dark_columns(change_stroke_weight(img, np.random.default_rng(s))) > 10 for s in range(20)}
    assert widths == {True, False}
    one = change_stroke_weight(img, np.random.default_rng(3))
    assert np.array_equal(one, change_stroke_weight(img, np.random.default_rng(3)))


def stream_batch(share: float, n: int = 24) -> list:
    from lpr_edge.train.data import PlateStream
    from lpr_edge.train.setup import default_spec

    rng = np.random.default_rng(3)
    plates = [synth.render(rng, "us") for _ in range(8)]
    stream = PlateStream(default_spec(), np.stack([p.image for p in plates]), [p.text for p in plates], [], [],
                         seed=4, stroke_weight=share)
    it = iter(stream)
    return [next(it)[0] for _ in range(n)]


def test_the_stream_draws_nothing_when_off_and_changes_crops_when_on(monkeypatch):
    torch = pytest.importorskip("torch")
    from lpr_edge.train.data import PlateStream
    from lpr_edge.train.setup import default_spec

    default = stream_batch(0.0)
    rng = np.random.default_rng(3)
    plates = [synth.render(rng, "us") for _ in range(8)]
    before = PlateStream(default_spec(), np.stack([p.image for p in plates]), [p.text for p in plates], [], [], seed=4)
    it = iter(before)
    assert all(torch.equal(a, next(it)[0]) for a in default)   # off: the stream of runs made before the option
    from lpr_edge.train import data

    calls = []
    real = data.change_stroke_weight
    monkeypatch.setattr(data, "change_stroke_weight", lambda img, rng: calls.append(1) or real(img, rng))
    stream_batch(0.5, n=200)
    assert 70 <= len(calls) <= 130      # about half of 200 crops
    assert not any(torch.equal(a, b) for a, b in zip(default[:4], stream_batch(1.0, n=4)))
