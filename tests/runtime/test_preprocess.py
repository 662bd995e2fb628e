from __future__ import annotations

import numpy as np
import pytest

from lpr_edge.errors import InputError
from lpr_edge.runtime.preprocess import as_bgr, preprocess_batch
from lpr_edge.spec import ModelSpec, preset


def reference(crop_bgr_resized, spec):
    """Per-pixel, per-channel loop: the obvious definition."""
    H, W = spec.height, spec.width
    out = np.zeros((3, H, W), np.float32)
    src = [2, 1, 0] if spec.color == "RGB" else [0, 1, 2]
    for c in range(3):
        for y in range(H):
            for x in range(W):
                out[c, y, x] = (float(crop_bgr_resized[y, x, src[c]]) - spec.mean[c]) * spec.scale[c]
    return out if spec.layout == "NCHW" else out.transpose(1, 2, 0)


@pytest.mark.parametrize("spec", [preset("tao-us"), preset("lprnet-pytorch"),
                                  ModelSpec(layout="NHWC", mean=(10, 20, 30), scale=(0.1, 0.2, 0.3))])
def test_matches_reference_at_model_size(spec):
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8) for _ in range(3)]
    got = preprocess_batch(crops, spec)
    for i, c in enumerate(crops):
        np.testing.assert_allclose(got[i], reference(c, spec), rtol=1e-6, atol=1e-6)


def test_writes_into_caller_buffer_and_resizes():
    spec = preset("tao-us")
    buf = np.full((4, 3, 48, 96), -7, np.float32)
    crops = [np.full((100, 300, 3), 255, np.uint8), np.zeros((20, 30, 3), np.uint8)]
    view = preprocess_batch(crops, spec, out=buf)
    assert view.base is buf or np.shares_memory(view, buf)
    assert np.allclose(buf[0], 1.0) and np.allclose(buf[1], 0.0) and np.all(buf[2:] == -7)


def test_gray_bgra_and_views_are_converted():
    spec = preset("tao-us")
    gray = np.full((48, 96), 51, np.uint8)
    bgra = np.zeros((48, 96, 4), np.uint8)
    bgra[..., 2] = 255  # red
    wide = np.zeros((48, 192, 3), np.uint8)
    view = wide[:, ::2]  # non-contiguous
    out = preprocess_batch([gray, gray[..., None], bgra, view], spec)
    assert np.allclose(out[0], 0.2) and np.allclose(out[1], 0.2)
    assert np.allclose(out[2][0], 1.0) and np.allclose(out[2][1:], 0.0)  # RGB order: R first
    assert np.allclose(out[3], 0.0)


@pytest.mark.parametrize("bad, message", [
    (None, "is None"),
    ("plate.png", "not a numpy array"),
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    (np.zeros((10, 0, 3), np.uint8), "empty"),
    (np.zeros((10, 10, 3), np.float32), "dtype float32"),
    (np.zeros((10, 10, 3), np.int16), "dtype int16"),
    (np.zeros((10, 10, 2), np.uint8), "2 channels"),
    (np.zeros((1, 10, 10, 3), np.uint8), "not a batch"),
    (np.zeros((10,), np.uint8), "shape"),
    (np.lib.stride_tricks.as_strided(np.zeros(3, np.uint8), (20001, 10, 3), (0, 0, 1)), "over the"),
])
def test_rejects_bad_crops(bad, message):
    with pytest.raises(InputError, match=message):
        as_bgr(bad)


def test_rejects_empty_batch_and_small_buffer():
    spec = preset("tao-us")
    with pytest.raises(InputError, match="no crops"):
        preprocess_batch([], spec)
    with pytest.raises(InputError, match="cannot hold"):
        preprocess_batch([np.zeros((5, 5, 3), np.uint8)] * 3, spec, out=np.zeros((2, 3, 48, 96), np.float32))


def test_a_batch_resized_on_several_cores_is_the_serial_one_and_names_the_first_bad_crop(monkeypatch):
    """From PARALLEL_FROM crops on, slices of a batch are resized on the pool's threads."""
    import os

    from lpr_edge.errors import CropError
    from lpr_edge.runtime import preprocess

    monkeypatch.setattr(os, "cpu_count", lambda: 3)  # three slices even on a 2-core machine
    spec = preset("tao-us")
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, (int(rng.integers(20, 200)), int(rng.integers(60, 400)), 3), np.uint8)
             for _ in range(20)]
    parallel = preprocess.resize_batch(crops, spec)
    serial = np.stack([preprocess.resize(c, spec.width, spec.height) for c in crops])
    assert np.array_equal(parallel, serial)
    bad = list(crops)
    bad[17], bad[3] = None, np.zeros((0, 5, 3), np.uint8)  # the later slice's fault may finish first
    with pytest.raises(CropError, match="crop 3 "):
        preprocess.resize_batch(bad, spec)
