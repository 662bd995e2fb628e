"""Styles of synthetic US plates that training can ask for: printed pictures (``lpr_edge.synth.graphics``,
``render_clean(graphics=...)``) and Hershey stroke fonts (``render_clean(stroke_fonts=...)``)."""
import numpy as np
import pytest

from lpr_edge.synth.fonts import STROKE_FACES, _render_stroke_text
from lpr_edge.synth.graphics import SHAPES, draw_picture
from lpr_edge.synth.plates import render_clean


@pytest.mark.parametrize("shape", SHAPES)
def test_each_picture_draws_inside_its_box_only(shape):
    for seed in range(20):
        img = np.full((100, 200, 3), 255, np.uint8)
        draw_picture(img, (30, 20, 40, 60), (0, 0, 0), (255, 255, 255), np.random.default_rng(seed), shape)
        inked = (img < 128).any(axis=2)
        assert inked[20:80, 30:70].mean() > 0.03, f"{shape} seed {seed}: almost nothing drawn"
        inked[20:80, 30:70] = False
        assert not inked.any(), f"{shape} seed {seed}: ink outside the box"


def test_a_box_past_the_image_edge_is_clipped():
    img = np.full((100, 200, 3), 255, np.uint8)
    draw_picture(img, (180, 70, 40, 60), (0, 0, 0), (255, 255, 255), np.random.default_rng(0), "logo")
    assert img.shape == (100, 200, 3)


def test_graphics_are_seeded_and_off_changes_nothing():
    one = render_clean(np.random.default_rng(5), emblems=True, graphics=1.0)
    again = render_clean(np.random.default_rng(5), emblems=True, graphics=1.0)
    assert np.array_equal(one.image, again.image) and one.text == again.text
    before = [render_clean(np.random.default_rng(s), emblems=True).image for s in range(5)]
    off = [render_clean(np.random.default_rng(s), emblems=True, graphics=0.0).image for s in range(5)]
    assert all(np.array_equal(a, b) for a, b in zip(before, off))


def test_pictures_appear_at_the_share_asked(monkeypatch):
    from lpr_edge.synth import plates

    drawn = []
    real = plates._picture_beside_or_behind
    monkeypatch.setattr(plates, "_picture_beside_or_behind", lambda *a: drawn.append(1) or real(*a))
    for share, low, high in ((1.0, 200, 200), (0.3, 40, 80), (0.0, 0, 0)):
        drawn.clear()
        for s in range(200):
            render_clean(np.random.default_rng(s), emblems=True, graphics=share)
        assert low <= len(drawn) <= high, (share, len(drawn))


@pytest.mark.parametrize("face", STROKE_FACES)
def test_stroke_text_is_a_tight_mask_of_the_asked_height_and_stroke(face):
    thin, thick = (_render_stroke_text("H7Q0", face, 64, stroke) for stroke in (0.06, 0.16))
    for mask in (thin, thick):
        rows = np.flatnonzero(mask.max(axis=1) > 127)
        assert 48 <= rows[-1] - rows[0] + 1 <= 90  # about 64 px (OpenCV versions size Hershey glyphs differently)
        assert mask[:, :2].max() == 0 and mask[:, -2:].max() == 0  # 2 px padding, as _render_text's
    assert (thick > 127).sum() > 1.2 * (thin > 127).sum()


def test_stroke_fonts_are_seeded_and_off_changes_nothing(monkeypatch):
    from lpr_edge.synth import plates

    one = render_clean(np.random.default_rng(5), stroke_fonts=1.0)
    again = render_clean(np.random.default_rng(5), stroke_fonts=1.0)
    assert np.array_equal(one.image, again.image) and one.text == again.text
    assert all(np.array_equal(render_clean(np.random.default_rng(s), emblems=True).image,
                              render_clean(np.random.default_rng(s), emblems=True, stroke_fonts=0.0).image)
               for s in range(5))
    drawn = []
    real = plates._render_stroke_text
    monkeypatch.setattr(plates, "_render_stroke_text", lambda *a: drawn.append(1) or real(*a))
    for s in range(200):
        render_clean(np.random.default_rng(s), stroke_fonts=0.25)
    assert 30 <= len(drawn) <= 70
