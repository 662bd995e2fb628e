from __future__ import annotations

import numpy as np
import pytest

from lpr_edge.errors import SpecError
from lpr_edge.runtime.decode import (
    EMPTY,
    ctc_posterior,
    decode_argmax,
    decode_logits,
    greedy_ctc,
    max_softmax,
)
from lpr_edge.spec import US_CHARSET, ModelSpec

from ..conftest import REPO, toy_spec


def _reference():
    """``benchmarks/decode_reference.py``: the per-plate Python loop the vectorised decoder must match."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("decode_reference", REPO / "benchmarks" / "decode_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.decode_reference


decode_reference = _reference()


def assert_same(a, b, plate_confidence: bool = True):
    assert [r.text for r in a] == [r.text for r in b]
    if plate_confidence:
        np.testing.assert_allclose([r.confidence for r in a], [r.confidence for r in b], rtol=1e-5, atol=1e-12)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.char_confidences, y.char_confidences, rtol=1e-5)


@pytest.mark.parametrize("blank", [0, 35])
def test_logits_match_reference_loop(blank):
    rng = np.random.default_rng(blank)
    logits = (rng.normal(size=(200, 24, 36)) * 4).astype(np.float32)
    logits[:, :, blank] += 3  # realistic: blanks common, so repeats and gaps occur
    assert_same(decode_logits(logits, US_CHARSET, blank), decode_reference(logits, US_CHARSET, blank))


@pytest.mark.parametrize("blank", [0, 35])
@pytest.mark.parametrize("layout", ["NTC", "NCT"])
def test_greedy_ctc_layouts_and_heads(blank, layout):
    rng = np.random.default_rng(1)
    logits = (rng.normal(size=(50, 24, 36)) * 3).astype(np.float32)
    expect = decode_reference(logits, US_CHARSET, blank)
    spec = ModelSpec(output_kind="logits", outputs=("y",), logits_layout=layout, blank=blank)
    arr = logits if layout == "NTC" else logits.transpose(0, 2, 1).copy()
    got = greedy_ctc({"y": arr}, spec)
    assert_same(got, expect, plate_confidence=False)
    # a logits model's plate confidence is the reading's CTC posterior under its softmax
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    classes = [c for c in US_CHARSET]
    classes.insert(blank, "")
    labels = [[classes.index(c) for c in r.text] for r in expect]
    np.testing.assert_allclose([r.confidence for r in got], ctc_posterior(probs, labels, blank), rtol=1e-6, atol=1e-15)
    idx, prob = max_softmax(logits)
    heads = ModelSpec(blank=blank)
    assert_same(greedy_ctc({"tf_op_layer_ArgMax": idx.astype(np.int32), "tf_op_layer_Max": prob}, heads), expect)


def test_collapse_rules_and_confidence():
    # classes: A=0 B=1 C=2 blank=3
    idx = np.array([[0, 0, 3, 0, 1, 1, 3, 3], [3] * 8, [2, 3, 3, 3, 3, 3, 3, 3]])
    sc = np.full(idx.shape, 0.5)
    sc[0, 0] = 0.9
    res = decode_argmax(idx, sc, "ABC", 3)
    assert res[0].text == "AAB" and res[0].char_confidences == (0.9, 0.5, 0.5)
    assert res[0].confidence == pytest.approx(0.9 * 0.5 * 0.5)
    assert res[1] == EMPTY and res[1].confidence == 0.0
    assert res[2].text == "C"
    short = decode_argmax(idx, sc, "ABC", 3, min_length=2)
    assert [r.text for r in short] == ["AAB", "", ""]  # aligned with the input, never dropped


def test_bad_outputs_are_clear():
    with pytest.raises(SpecError, match="classes but charset"):
        decode_logits(np.zeros((1, 8, 5)), "ABC", 3)
    with pytest.raises(SpecError, match="out of range"):
        decode_argmax(np.array([[7]]), np.array([[1.0]]), "ABC", 3)
    with pytest.raises(SpecError, match="lack"):
        greedy_ctc({"other": np.zeros((1, 4, 8))}, toy_spec())
