"""The cross-checked confidence (lpr_edge.runtime.cross_check): the padded view with known pixels, the
combination with known answers, the Recognizer's confidences recomputed from two plain readers, and
the bundled US model's risk-coverage on its validation split."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from lpr_edge import Recognizer
from lpr_edge.cli import main
from lpr_edge.datasets import load_images, load_split
from lpr_edge.evaluation.harness import evaluate_images
from lpr_edge.runtime.cross_check import combine, padded_view
from lpr_edge.runtime.decode import PlateResult

from ..conftest import US_DATA, crops_read_again, need


def test_padded_view_replicates_the_edges_by_four_percent():
    crop = np.arange(25 * 100 * 3, dtype=np.uint32).reshape(25, 100, 3).astype(np.uint8)
    view = padded_view(crop)
    assert view.shape == (27, 108, 3)                       # 1 px (4 % of 25) top/bottom, 4 px left/right
    assert np.array_equal(view[1:26, 4:104], crop)           # the crop itself is untouched
    assert np.array_equal(view[1:26, 0], crop[:, 0]) and np.array_equal(view[1:26, 107], crop[:, 99])
    assert np.array_equal(view[0, 4:104], crop[0]) and np.array_equal(view[26, 4:104], crop[24])
    assert padded_view(np.zeros((3, 5), np.uint8)).shape == (5, 7)  # at least one pixel, grayscale too


def test_combine_averages_agreeing_views_and_halves_disagreeing_ones():
    first = [PlateResult("AB1", 0.8, (1.0, 0.8, 1.0)), PlateResult("AB1", 0.6, (0.6, 1.0, 1.0)),
             PlateResult("AB1", 0.5, (0.5, 1.0, 1.0)), PlateResult("", 0.0)]
    second = [PlateResult("AB1", 0.4, (0.5, 0.8, 1.0)), PlateResult("AB7", 0.9, (0.9, 1.0, 1.0)),
              PlateResult("AB", 0.5, (0.5, 1.0)), PlateResult("", 0.0)]
    out = combine(first, second)
    assert [r.text for r in out] == ["AB1", "AB1", "AB1", ""]      # the reading is always the crop's own
    assert out[0].confidence == pytest.approx(0.6) and out[0].char_confidences == pytest.approx((0.75, 0.8, 1.0))
    assert out[1].confidence == pytest.approx(0.3) and out[1].char_confidences == pytest.approx((0.3, 0.5, 0.5))
    assert out[3] == PlateResult("", 0.0)


@pytest.fixture(scope="module")
def us_val():
    samples, _ = load_split(need(US_DATA), "val")
    images, kept, _ = load_images(samples)
    return images, kept


def test_recognizer_confidence_is_the_combination_of_two_plain_readings(us_val):
    images = us_val[0]
    with Recognizer("us", cross_check=False, max_batch=200) as plain, \
            Recognizer("us", reframe=False, cross_check=False) as unframed, \
            Recognizer("us", max_batch=200, cross_check=True) as checked:
        assert checked.cross_check and not plain.cross_check
        first = plain.recognize_batch(images)
        reframed = crops_read_again(plain, images)       # which crops the first view read again
        views = [padded_view(c) for c in images]
        # a padded view is read again (reframed) only where its crop was
        padded = [(plain if i in reframed else unframed).recognize(v) for i, v in enumerate(views)]
        got = checked.recognize_batch(images)
        assert "cross_check" in checked.last_timings and "cross_check" not in plain.last_timings
    assert 0 < len(reframed) < len(images)
    want = combine(first, padded)
    assert [r.text for r in got] == [r.text for r in first]
    assert [r.confidence for r in got] == pytest.approx([r.confidence for r in want])
    assert 0 < sum(a.text != b.text for a, b in zip(first, padded)) < len(images) // 4  # both branches taken


def test_bundled_us_confidence_separates_right_from_wrong_on_validation(us_val):
    images, samples = us_val
    with Recognizer("us") as default, Recognizer("us", cross_check=True) as checked:
        assert default.probabilities and not default.cross_check  # the posterior alone, one pass per crop
        posterior = evaluate_images(default, images, samples)
        both = evaluate_images(checked, images, samples)
    assert [r.text for r in posterior.results] == [r.text for r in both.results]
    # measured: 99 % precision at 94.7 % coverage with the posterior, 94.0 % with the character product
    # cross-checked (the issue asks >= 80 %)
    assert posterior.risk("plate").coverage_at_target == pytest.approx(142 / 150)
    assert both.risk("plate").coverage_at_target == pytest.approx(141 / 150)


def test_eval_says_whether_the_confidence_was_cross_checked(tmp_path, capsys):
    folder = need(US_DATA)
    assert main(["eval", "--data", str(folder), "--split", "val", "--threads", "1", "--no-cross-check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cross_check"] is False
    assert main(["eval", "--data", str(folder), "--split", "val", "--threads", "1"]) == 0
    assert "confidence cross-checked" not in capsys.readouterr().out  # the bundled model's posterior needs none
    assert main(["eval", "--data", str(folder), "--split", "val", "--threads", "1", "--cross-check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cross_check"] is True


def test_views_of_crops_near_the_size_limit_are_shrunk_not_refused():
    # a valid 9,990-px crop grows past the 10,000-px limit when padded or extended; that limit is for
    # whole frames passed as crops, so the views are shrunk instead of raising CropError
    from lpr_edge.datasets import load_dataset, read_image
    from lpr_edge.runtime.preprocess import MAX_SIDE, within_limit
    from lpr_edge.runtime.reframe import cut

    from ..conftest import BR_DATA

    sample = load_dataset(need(BR_DATA)).samples[0]
    crop = read_image(sample.path)
    big = cv2.resize(crop, (9990, round(9990 * crop.shape[0] / crop.shape[1])))
    assert max(padded_view(big).shape[:2]) == MAX_SIDE
    assert cut(big, (-600, -10, 10500, big.shape[0] + 10), "replicate").shape[:2] == (
        round(MAX_SIDE * (big.shape[0] + 20) / 11100), MAX_SIDE)
    assert within_limit(crop) is crop
    with Recognizer("br") as rec:
        assert rec.recognize(big).text == rec.recognize(crop).text == sample.text
