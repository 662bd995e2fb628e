"""Errors raised in the layer that owns the problem: crops vs model spec vs runtime."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from lpr_edge import CropError, Recognizer, SpecError
from lpr_edge.runtime.batcher import PlateBatcher

from ..conftest import BANDS, build_toy_model, toy_crop, toy_spec


def test_crop_error_carries_the_callers_index(toy_model_path):
    crops = [toy_crop(BANDS, toy_spec("argmax_max"))] * 5
    crops[3] = np.zeros((0, 5, 3), np.uint8)
    with Recognizer(toy_model_path, max_batch=2) as rec:  # chunks of 2: the bad crop is row 1 of chunk 2
        with pytest.raises(CropError) as info:
            rec.recognize_batch(crops)
    assert info.value.index == 3 and str(info.value).startswith("crop 3 is empty")


def test_a_spec_that_disagrees_with_the_model_is_not_a_bad_crop(tmp_path):
    spec = toy_spec("argmax_max")
    path = tmp_path / "toy.onnx"
    onnx.save(build_toy_model(spec, embed=False), path)
    # ArgMax outputs do not show the class count, so this spec passes validation; decoding finds it out.
    with Recognizer(path, spec=spec.replace(charset="AB", blank=2)) as rec:
        errors, readings = [], []
        batcher = PlateBatcher(rec, readings.append, batch_size=2, on_error=lambda tag, exc: errors.append(exc))
        batcher.submit(toy_crop(BANDS, spec), "a")
        batcher.submit(toy_crop(BANDS, spec), "b")
        batcher.flush()
    assert len(errors) == 2 and all(isinstance(e, SpecError) for e in errors)
    assert batcher.stats.get("rejected", 0) == 0 and not readings  # no crop blamed
