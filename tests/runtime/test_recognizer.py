from __future__ import annotations

import numpy as np
import onnx
import pytest

from lpr_edge import Recognizer
from lpr_edge.errors import ClosedError, InputError, ModelFileError

from ..conftest import BANDS, build_toy_model, run_threads, toy_crop, toy_spec


@pytest.mark.parametrize("kind, layout, color", [("logits", "NCT", "RGB"), ("logits", "NTC", "BGR"),
                                                 ("argmax_max", "NCT", "RGB")])
def test_reads_toy_plates_end_to_end(tmp_path, kind, layout, color):
    spec = toy_spec(kind, layout, color=color)
    path = tmp_path / "toy.onnx"
    onnx.save(build_toy_model(spec), path)
    with Recognizer(path, max_batch=4) as rec:
        assert rec.backend_name == "onnxruntime" and rec.model_path == path and rec.precision == "fp32"
        r = rec.recognize(toy_crop(BANDS, spec))
        assert r.text == "ABCA" and 0.9 < r.confidence <= 1.0 and len(r.char_confidences) == 4
        assert set(rec.last_timings) >= {"preprocess", "infer", "decode"}


def test_batches_are_chunked_and_ordered(toy_model_path):
    spec = toy_spec()
    patterns = [["A"] * 8, ["B"] * 8, ["C", "", "C"] + [""] * 5, BANDS]
    crops = [toy_crop(patterns[i % 4], spec) for i in range(11)]
    with Recognizer(toy_model_path, max_batch=3) as rec:
        texts = [r.text for r in rec.recognize_batch(crops)]
    assert texts == [["A", "B", "CC", "ABCA"][i % 4] for i in range(11)]


def test_bad_crop_error_names_callers_index_and_recogniser_survives(toy_model_path):
    spec = toy_spec()
    good = toy_crop(BANDS, spec)
    with Recognizer(toy_model_path, max_batch=2) as rec:
        with pytest.raises(InputError, match="crop 3 is None"):
            rec.recognize_batch([good, good, good, None])
        assert rec.recognize(good).text == "ABCA"


def test_threads_share_one_recogniser(toy_model_path):
    spec = toy_spec()
    patterns = {"A": ["A"] * 8, "ABCA": BANDS, "B": ["B"] * 8}
    errors, wrong = [], []
    rec = Recognizer(toy_model_path, max_batch=4)

    def worker(k):
        try:
            for i in range(30):
                want = list(patterns)[(k + i) % 3]
                got = rec.recognize_batch([toy_crop(patterns[want], spec)] * (1 + i % 5))
                if any(g.text != want for g in got):
                    wrong.append((want, [g.text for g in got]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    assert not run_threads(worker)
    rec.close()
    assert not errors and not wrong
    with pytest.raises(ClosedError):
        rec.recognize(toy_crop(BANDS, spec))
    rec.close()  # twice is fine


def test_missing_and_damaged_models(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        Recognizer(tmp_path / "nope.onnx")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        Recognizer(empty)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ModelFileError):
        Recognizer(junk)
    with pytest.raises(InputError, match="max_batch"):
        Recognizer(tmp_path / "nope.onnx", max_batch=0)
    with pytest.raises(InputError, match="unknown backend"):
        Recognizer(tmp_path / "x.onnx", backend="cuda")
