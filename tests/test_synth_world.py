"""Synthetic effects for robust training: seeded, deterministic, and doing what they say."""
from __future__ import annotations

import numpy as np

from lpr_edge import synth
from lpr_edge.synth.camera import camera_effects, camera_effects_with_box
from lpr_edge.synth.world import light, stickers, surroundings, surroundings_with_box, world_effects


def plate(seed=0, **kw):
    return synth.render_clean(np.random.default_rng(seed), extras=False, **kw)


def test_world_effects_are_deterministic_and_change_the_image():
    a = world_effects(plate().image, np.random.default_rng(5))
    b = world_effects(plate().image, np.random.default_rng(5))
    c = world_effects(plate().image, np.random.default_rng(6))
    assert np.array_equal(a, b) and not (a.shape == c.shape and np.array_equal(a, c))


def test_surroundings_give_loose_crops_up_to_the_margin():
    img = plate().image
    h, w = img.shape[:2]
    shapes = [surroundings(img, np.random.default_rng(s), max_margin=0.3).shape[:2] for s in range(40)]
    assert all(0.94 * h <= sh <= 1.6 * h + 1 and 0.94 * w <= sw <= 1.6 * w + 1 for sh, sw in shapes)
    assert max(sw for _, sw in shapes) > 1.35 * w  # some loose ones
    assert min(sw for _, sw in shapes) < 1.1 * w   # and some tight ones


def test_emblems_leave_the_label_and_earlier_seeds_alone():
    plain, emb = plate(3), plate(3, emblems=True)
    assert plain.text == emb.text and " " not in emb.text
    assert np.array_equal(plate(3).image, plain.image)  # emblems off: the same plates as before
    # Over many plates with a gap, some get an emblem: the images differ.
    assert any(not np.array_equal(plate(s).image, plate(s, emblems=True).image) for s in range(20))


def test_light_and_stickers_are_seeded():
    img = plate(1).image
    assert np.array_equal(light(img, np.random.default_rng(2)), light(img, np.random.default_rng(2)))
    assert np.array_equal(stickers(img, np.random.default_rng(2)), stickers(img, np.random.default_rng(2)))


def test_brazilian_layout():
    rng = np.random.default_rng(0)
    plates = [synth.render_br(rng, extras=False) for _ in range(30)]
    assert all(len(p.text) == 7 and p.text[:3].isalpha() and p.text[3:].isdigit() for p in plates)
    assert all(p.image.shape == (100, 300, 3) for p in plates)
    again = synth.render_br(np.random.default_rng(0), extras=False)
    assert again.text == plates[0].text and np.array_equal(again.image, plates[0].image)


def test_surroundings_box_is_where_the_plate_is():
    img = plate(2).image
    h, w = img.shape[:2]
    for seed in range(20):
        crop, (x0, y0, x1, y1) = surroundings_with_box(img, np.random.default_rng(seed))
        assert np.array_equal(crop, surroundings(img, np.random.default_rng(seed)))  # same draws
        assert (x1 - x0, y1 - y0) == (w, h)
        # The part of the plate inside the crop is the plate, pixel for pixel (a border mark may
        # cover a little of it).
        cx0, cy0 = max(0, int(x0)), max(0, int(y0))
        cx1, cy1 = min(crop.shape[1], int(x1)), min(crop.shape[0], int(y1))
        inside = crop[cy0:cy1, cx0:cx1]
        original = img[cy0 - int(y0):cy1 - int(y0), cx0 - int(x0):cx1 - int(x0)]
        assert inside.shape == original.shape and (inside == original).all(axis=2).mean() > 0.85


def test_camera_effects_follow_the_plate_box():
    # The same draws on a black and on a white plate: the pixels that differ are where the plate went.
    moved = 0
    for seed in range(30):
        outs = []
        for value in (0, 255):
            img = np.full((100, 200, 3), value, np.uint8)
            out, box = camera_effects_with_box(img, (0, 0, 200, 100), np.random.default_rng(seed), 1.0)
            assert np.array_equal(out, camera_effects(img, np.random.default_rng(seed), 1.0))  # same draws
            outs.append(out)
        diff = np.abs(outs[1].astype(np.float32) - outs[0]).mean(axis=2)
        h, w = diff.shape
        x0, y0, x1, y1 = np.clip(box, 0, [w, h, w, h])  # warped corners may leave the image
        ys, xs = np.nonzero(diff > diff.max() / 2)
        assert abs(xs.min() - x0) <= 0.05 * w + 1 and abs(xs.max() + 1 - x1) <= 0.05 * w + 1, seed
        assert abs(ys.min() - y0) <= 0.05 * h + 1 and abs(ys.max() + 1 - y1) <= 0.05 * h + 1, seed
        moved += x0 > 0.05 * w
    assert moved >= 5  # margins did move the plate inwards, and the box followed
