"""Fusing the views of one plate: the candidates' CTC posteriors on every view, the geometric mean chooses,
the arithmetic mean is the confidence; a confidence-weighted vote without probabilities; recognize_track."""
from __future__ import annotations

import random

import numpy as np
import pytest

from lpr_edge import Recognizer
from lpr_edge.datasets import load_dataset, load_images
from lpr_edge.errors import InputError
from lpr_edge.evaluation.margins import crop_at_margin
from lpr_edge.runtime.decode import PlateResult, ctc_posterior
from lpr_edge.runtime.fusion import FLOOR, candidate_posteriors, fuse

from ..conftest import SHARED_DATA, need

CHARSET, BLANK = "ABC", 3  # classes A, B, C, blank


def view(b: float) -> np.ndarray:
    """Three steps: A for sure, then B with probability ``b`` (else C), then blank: P(AB) = b, P(AC) = 1 - b."""
    p = np.zeros((3, 4))
    p[0, 0], p[1, 1], p[1, 2], p[2, 3] = 1.0, b, 1.0 - b, 1.0
    return p


def reading(text: str, confidence: float) -> PlateResult:
    return PlateResult(text, confidence, (confidence,) * len(text))


def test_a_sure_view_outweighs_two_unsure_ones_that_read_otherwise():
    probs = np.stack([view(0.55), view(0.55), view(0.01)])
    readings = [reading("AB", 0.55), reading("AB", 0.55), reading("AC", 0.99)]
    texts, posterior = candidate_posteriors(readings, probs, CHARSET, BLANK)
    assert texts == ["AB", "AC"]
    np.testing.assert_allclose(posterior, [[0.55, 0.55, 0.01], [0.45, 0.45, 0.99]], rtol=1e-12)
    fused = fuse(readings, probs, CHARSET, BLANK)
    # geometric means: AB (0.55 * 0.55 * 0.01)^(1/3) = 0.145, AC (0.45 * 0.45 * 0.99)^(1/3) = 0.584; the vote says AB
    assert fused.text == "AC" and fused.confidence == pytest.approx((0.45 + 0.45 + 0.99) / 3)
    assert fused.char_confidences == (0.99, 0.99)  # the surest view that read it


def test_one_view_is_its_own_reading_and_a_view_cannot_veto_the_others():
    probs = view(0.9)[None]
    one = fuse([reading("AB", 0.9)], probs, CHARSET, BLANK)
    assert one.text == "AB" and one.confidence == pytest.approx(0.9)
    # four views sure of AB, one with P(AB) = 1e-12: floored at FLOOR, it cannot overturn them
    probs = np.stack([view(0.97)] * 4 + [view(1e-12)])
    readings = [reading("AB", 0.97)] * 4 + [reading("AC", 1.0)]
    assert fuse(readings, probs, CHARSET, BLANK).text == "AB" and FLOOR > 1e-12


def test_without_probabilities_a_confidence_weighted_vote():
    readings = [reading("AB", 0.5), reading("AB", 0.5), reading("AC", 0.95), reading("", 0.0)]
    fused = fuse(readings, None, CHARSET, BLANK)
    assert fused.text == "AB" and fused.confidence == pytest.approx(1.0 / 4)
    assert fuse(readings[1:], None, CHARSET, BLANK).text == "AC"  # 0.95 against 0.5: weighted, not counted
    assert fuse([reading("", 0.0)], None, CHARSET, BLANK).text == ""


def test_candidates_are_scored_batch_independently():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), size=(5, 6))
    readings = [reading(t, 0.5) for t in ("AB", "ABC", "C", "AB", "BA")]
    texts, posterior = candidate_posteriors(readings, probs, CHARSET, BLANK)
    index = {"A": 0, "B": 1, "C": 2}
    for k, t in enumerate(texts):
        alone = ctc_posterior(probs, [[index[c] for c in t]] * 5, BLANK)
        assert np.array_equal(posterior[k], alone)


@pytest.fixture(scope="module")
def context_views():
    """Three views of four real Brazilian plates, cut from their photos at 0, 10 and 20 % margin per side."""
    data = SHARED_DATA / "openalpr-br-context"
    need(data)
    samples = load_dataset(data).samples[:4]
    images, kept, _ = load_images(samples)
    return [([crop_at_margin(img, s.box, m) for m in (0.0, 0.1, 0.2)], s.text) for img, s in zip(images, kept)]


def test_recognize_track_on_real_views(context_views):
    with Recognizer("br") as rec:
        for crops, text in context_views:
            fused = rec.recognize_track(crops)
            single = rec.recognize_batch(crops)
            assert fused.text in {r.text for r in single}
            shuffled = list(crops)
            random.Random(0).shuffle(shuffled)
            assert rec.recognize_track(shuffled) == fused  # any order
            assert rec.recognize_track(crops[:1]) == single[0]  # one crop: its own reading
        right = sum(rec.recognize_track(c).text == t for c, t in context_views)
        assert right >= 3
        with pytest.raises(InputError, match="at least one crop"):
            rec.recognize_track([])
