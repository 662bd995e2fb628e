"""Styles of synthetic US plates that training can ask for: printed pictures (``lpr_edge.synth.graphics``,
``PlateStyles(graphics=...)``), Hershey stroke fonts (``stroke_fonts``), plain-bar ones (``plain_ones``)
and stacked small characters (``stacked``), each a field of the ``styles`` that ``render_clean`` draws."""
import numpy as np
import pytest

from lpr_edge.synth import PlateStyles, font_paths
from lpr_edge.synth.fonts import (
    STROKE_FACES,
    _render_stroke_text,
    _render_text,
    _render_text_plate_glyphs,
    _stroke_width,
)
from lpr_edge.synth.graphics import SHAPES, draw_picture
from lpr_edge.synth.plates import random_text, render_clean


def _plate(seed: int, **styles):
    """The clean US plate of ``seed`` drawn with ``styles`` (PlateStyles' fields)."""
    return render_clean(np.random.default_rng(seed), styles=PlateStyles(**styles))


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
    one = _plate(5, emblems=True, graphics=1.0)
    again = _plate(5, emblems=True, graphics=1.0)
    assert np.array_equal(one.image, again.image) and one.text == again.text
    before = [_plate(s, emblems=True).image for s in range(5)]
    off = [_plate(s, emblems=True, graphics=0.0).image for s in range(5)]
    assert all(np.array_equal(a, b) for a, b in zip(before, off))


def test_pictures_appear_at_the_share_asked(monkeypatch):
    from lpr_edge.synth import plates

    drawn = []
    real = plates._picture_beside_or_behind
    monkeypatch.setattr(plates, "_picture_beside_or_behind", lambda *a: drawn.append(1) or real(*a))
    for share, low, high in ((1.0, 200, 200), (0.3, 40, 80), (0.0, 0, 0)):
        drawn.clear()
        for s in range(200):
            _plate(s, emblems=True, graphics=share)
        assert low <= len(drawn) <= high, (share, len(drawn))


@pytest.mark.parametrize("face", STROKE_FACES)
def test_stroke_text_is_a_tight_mask_of_the_asked_height_and_stroke(face):
    thin, thick = (_render_stroke_text("H7Q0", face, 64, stroke) for stroke in (0.06, 0.16))
    for mask in (thin, thick):
        rows = np.flatnonzero(mask.max(axis=1) > 127)
        assert 48 <= rows[-1] - rows[0] + 1 <= 90  # about 64 px (OpenCV versions size Hershey glyphs differently)
        assert mask[:, :2].max() == 0 and mask[:, -2:].max() == 0  # 2 px padding, as _render_text's
    assert (thick > 127).sum() > 1.2 * (thin > 127).sum()


def _off_draws_nothing(style: str) -> bool:
    """A style at share 0 draws nothing from the generator: the plates of before it existed."""
    return all(np.array_equal(_plate(s, emblems=True, graphics=0.3).image,
                              _plate(s, emblems=True, graphics=0.3, **{style: 0.0}).image)
               for s in range(5))


def _times_drawn(monkeypatch, drawer: str, plates: int, **style) -> int:
    """How many of ``plates`` seeded plates ``render_clean`` draws with ``lpr_edge.synth.plates.<drawer>``."""
    from lpr_edge.synth import plates as module

    drawn = []
    real = getattr(module, drawer)
    monkeypatch.setattr(module, drawer, lambda *a: drawn.append(1) or real(*a))
    for s in range(plates):
        _plate(s, **style)
    return len(drawn)


def test_stroke_fonts_are_seeded_and_off_changes_nothing(monkeypatch):
    one = _plate(5, stroke_fonts=1.0)
    again = _plate(5, stroke_fonts=1.0)
    assert np.array_equal(one.image, again.image) and one.text == again.text
    assert _off_draws_nothing("stroke_fonts")
    assert 30 <= _times_drawn(monkeypatch, "_render_stroke_text", 200, stroke_fonts=0.25) <= 70


@pytest.mark.parametrize("font", font_paths(extras=False))
def test_a_plain_one_is_a_full_bar_of_the_stroke_in_the_fonts_own_cell(font):
    mask = _render_text_plate_glyphs("414", font, 64, {}, plain="1")
    own = _render_text("414", font, 64, (0, 0, 0))
    assert abs(mask.shape[1] - own.shape[1]) <= 0.06 * own.shape[1]  # the 1 keeps its advance: the spacing
    inked = mask > 127
    cols = np.flatnonzero(inked.any(axis=0))
    # the middle glyph: the inked columns between the two 4s' ink
    runs = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
    assert len(runs) == 3, "expected three separate glyphs"
    bar = inked[:, runs[1][0]:runs[1][-1] + 1]
    assert bar.shape[1] == _stroke_width(font, 64)
    rows = np.flatnonzero(bar.any(axis=1))
    assert bar[rows[0]:rows[-1] + 1].all()  # a solid rectangle: no flag, no foot
    assert rows[-1] - rows[0] + 1 >= 0.5 * mask.shape[0]


def test_plain_ones_are_seeded_at_the_share_asked_and_off_changes_nothing(monkeypatch):
    from lpr_edge.synth import plates

    one = _plate(25, emblems=True, plain_ones=1.0)
    assert "1" in one.text
    again = _plate(25, emblems=True, plain_ones=1.0)
    assert np.array_equal(one.image, again.image) and one.text == again.text
    assert not np.array_equal(one.image, _plate(25, emblems=True).image)
    for s in range(5):  # off: nothing drawn from the generator, the plates of before
        assert np.array_equal(_plate(s, emblems=True).image,
                              _plate(s, emblems=True, plain_ones=0.0).image)
    drawn = []
    real = plates._render_text_plate_glyphs
    monkeypatch.setattr(plates, "_render_text_plate_glyphs", lambda *a, **k: drawn.append(a[0]) or real(*a, **k))
    with_one = 0
    for s in range(300):
        rng = np.random.default_rng(s)
        with_one += "1" in random_text(rng)
        _plate(s, plain_ones=0.5)
    assert all("1" in body for body in drawn)  # only plates with a 1 are drawn another way
    assert 0.3 * with_one <= len(drawn) <= 0.7 * with_one
