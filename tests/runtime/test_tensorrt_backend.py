"""The pycuda/TensorRT backend against the doubles: buffers, copies, context order, threads, errors."""
from __future__ import annotations

import json
import sys
import threading

import onnx
import pytest

from lpr_edge import Recognizer
from lpr_edge.errors import BackendUnavailable, ModelFileError
from lpr_edge.formats.engine_manifest import manifest_path
from lpr_edge.runtime.backends.tensorrt_backend import open_engine
from lpr_edge.toolchain.engine_builder import BuildOptions, build_engine

from .. import doubles
from ..conftest import BANDS, build_toy_model, run_threads, toy_crop, toy_spec

ROW_IN = 3 * 16 * 32 * 4  # one float32 input row of the toy model
ROW_OUT = 8 * 4           # one row of indices (int32) or scores (float32)


@pytest.fixture
def engine(monkeypatch, tmp_path):
    trt, cuda = doubles.install(monkeypatch, "10.3.0")
    spec = toy_spec("argmax_max")
    onnx_path = tmp_path / "toy.onnx"
    onnx.save(build_toy_model(spec), onnx_path)
    path, _ = build_engine(onnx_path, BuildOptions(precision="fp16", batch=(1, 8, 16), out_dir=str(tmp_path / "e")),
                           say=lambda m: None)
    cuda.log.clear()
    return path, spec, trt, cuda


def test_copies_only_used_rows_in_order(engine):
    path, spec, trt, cuda = engine
    with Recognizer(path, cross_check=False) as rec:
        cuda.log.clear()
        assert [r.text for r in rec.recognize_batch([toy_crop(BANDS, spec)] * 3)] == ["ABCA"] * 3
        assert [e[0] for e in cuda.log] == ["push", "htod", "execute", "dtoh", "dtoh", "sync", "pop"]
        assert [e[1] for e in cuda.log if e[0] == "htod"] == [3 * ROW_IN]
        assert [e[1] for e in cuda.log if e[0] == "dtoh"] == [3 * ROW_OUT, 3 * ROW_OUT]
        assert trt.calls[-1] == ("execute", (3, 3, 16, 32))
        assert set(rec.last_timings) >= {"h2d", "compute", "d2h", "preprocess", "decode"}



def test_cross_check_reads_the_padded_views_on_the_same_buffers(engine):
    path, spec, trt, cuda = engine
    with Recognizer(path) as rec:
        cuda.log.clear()
        trt.calls.clear()
        results = rec.recognize_batch([toy_crop(BANDS, spec)] * 3)
        assert [r.text for r in results] == ["ABCA"] * 3
        # the crops and their padded views in one pass where the profile has room (3 + 3 of 16 rows)
        assert [e[0] for e in cuda.log] == ["push", "htod", "execute", "dtoh", "dtoh", "sync", "pop"]
        assert [c for c in trt.calls if c[0] == "execute"] == [("execute", (6, 3, 16, 32))]
        assert rec.last_timings["cross_check"] > 0 and rec.last_timings["compute"] > 0
        cuda.log.clear()
        trt.calls.clear()
        # without room (10 + 10 > 16) one pass for the crops, one for their padded views, nothing allocated
        assert [r.text for r in rec.recognize_batch([toy_crop(BANDS, spec)] * 10)] == ["ABCA"] * 10
        assert [e[0] for e in cuda.log] == ["push", "htod", "execute", "dtoh", "dtoh", "sync", "pop"] * 2
        assert [c for c in trt.calls if c[0] == "execute"] == [("execute", (10, 3, 16, 32))] * 2

def test_buffers_allocated_once_for_profile_max(engine):
    path, spec, trt, cuda = engine
    rec = Recognizer(path, max_batch=64)
    allocs = [e for e in cuda.log if e[0] in ("mem_alloc", "pagelocked_empty")]
    assert rec.max_batch == 16
    assert ("mem_alloc", 16 * ROW_IN) in allocs and ("pagelocked_empty", (16, 3, 16, 32), "float32", 0) in allocs
    for _ in range(20):
        rec.recognize_batch([toy_crop(BANDS, spec)] * 5)
    assert [e for e in cuda.log if e[0] in ("mem_alloc", "pagelocked_empty")] == allocs  # no per-call allocation
    rec.close()
    assert not cuda.live  # every device and pinned allocation freed
    assert ("detach", "released") in cuda.log and cuda.current_context_depth() == 0 and cuda.retains == 0


def test_zero_copy_on_integrated_gpu(monkeypatch, tmp_path):
    trt, cuda = doubles.install(monkeypatch, "8.5.2", integrated=True)
    spec = toy_spec("argmax_max")
    onnx.save(build_toy_model(spec), tmp_path / "toy.onnx")
    path, _ = build_engine(tmp_path / "toy.onnx", BuildOptions(precision="fp16", out_dir=str(tmp_path)),
                           say=lambda m: None)
    with Recognizer(path) as rec:
        cuda.log.clear()
        assert rec.recognize(toy_crop(BANDS, spec)).text == "ABCA"
        assert not [e for e in cuda.log if e[0] in ("htod", "dtoh", "mem_alloc")]
    # forcing copies on the same device works too
    from lpr_edge.runtime.backends.tensorrt_backend import open_engine as oe

    b = oe(path, zero_copy=False)
    assert not b.zero_copy
    b.close()


def test_threads_push_and_pop_their_own_context(engine):
    path, spec, trt, cuda = engine
    rec = Recognizer(path, max_batch=8)
    want = {"ABCA": BANDS, "A": ["A"] * 8, "BC": ["B", "C"] + [""] * 6}
    failures = []
    all_alive = threading.Barrier(8)  # thread ids stay distinct only while all threads live

    def worker(k):
        all_alive.wait()
        for i in range(20):
            text = list(want)[(k + i) % 3]
            got = rec.recognize_batch([toy_crop(want[text], spec)] * (1 + (k + i) % 6))
            if any(g.text != text for g in got):
                failures.append((text, got))

    assert not run_threads(worker)
    rec.close()
    assert not failures
    pushes = sum(1 for e in cuda.log if e[0] == "push")
    pops = sum(1 for e in cuda.log if e[0] == "pop")
    detached = sum(1 for e in cuda.log if e == ("detach", "released"))  # detach takes its push off the stack
    assert pushes == pops + detached and len({e[1] for e in cuda.log if e[0] == "push"}) >= 8  # every thread pushed


def test_refuses_mismatched_engine_before_deserialising(engine):
    path, spec, trt, cuda = engine
    mp = manifest_path(path)
    data = json.loads(mp.read_text())
    data["trt_version"] = "8.5.2"
    mp.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="built with TensorRT 8.5.2.*lpr-edge build --onnx"):
        open_engine(path)
    data["trt_version"], data["compute_capability"] = "10.3.0", "7.2"
    mp.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=r"sm 7.2\), this GPU is Fake GPU \(sm 8.7"):
        open_engine(path)


@pytest.mark.parametrize("damage", ["truncate", "random", "empty"])
def test_corrupt_engine_is_a_clear_error(engine, damage):
    path, spec, trt, cuda = engine
    data = path.read_bytes()
    path.write_bytes({"truncate": data[:5], "random": b"\x00\x13" * 500, "empty": b""}[damage])
    with pytest.raises(ModelFileError, match="rebuild it"):
        open_engine(path)
    # the primary context retained for the open is released too (issue 40, item 6: it leaked)
    assert cuda.current_context_depth() == 0 and not cuda.live and cuda.retains == 0


def test_an_engine_for_another_gpu_releases_the_context_it_retained(engine):
    path, spec, trt, cuda = engine
    mp = manifest_path(path)
    mp.write_text(json.dumps({**json.loads(mp.read_text()), "trt_version": "8.5.2"}))
    with pytest.raises(ModelFileError, match="built with TensorRT 8.5.2"):
        open_engine(path)
    assert cuda.retains == 0 and cuda.current_context_depth() == 0


def test_missing_manifest_and_auto_fallback(engine, monkeypatch, caplog):
    path, spec, trt, cuda = engine
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # TensorRT gone: auto falls back to the ONNX
    with Recognizer(path) as rec:
        assert rec.backend_name == "onnxruntime" and rec.recognize(toy_crop(BANDS, spec)).text == "ABCA"
    # the fallback is said, once, in one line naming both files (it used to be silent)
    said = [r.getMessage() for r in caplog.records if r.name == "lpr_edge"]
    assert len(said) == 1 and f"{path.name} runs on ONNX Runtime with toy.onnx, not TensorRT" in said[0]
    with pytest.raises(BackendUnavailable, match="python3-libnvinfer"):
        Recognizer(path, backend="tensorrt")
    # a manifest of a newer lpr-edge (one key more) still opens, with a line
    mp = manifest_path(path)
    data = json.loads(mp.read_text())
    mp.write_text(json.dumps({**data, "from_the_future": 1}))
    caplog.clear()
    with Recognizer(path) as rec:
        assert rec.backend_name == "onnxruntime"
    assert any("keys this lpr-edge does not know (from_the_future)" in r.getMessage() for r in caplog.records)
    # an ONNX that is not the one the engine was built from does not stand in for it
    onnx_file = path.parent.parent / "toy.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    with pytest.raises(ModelFileError, match="is not the ONNX .* was built from.*rebuild: lpr-edge build"):
        Recognizer(path)
    manifest_path(path).unlink()
    with pytest.raises(ModelFileError, match="has no manifest"):
        Recognizer(path)


def test_loose_crops_are_read_again_on_the_same_buffers(monkeypatch, tmp_path):
    trt, cuda = doubles.install(monkeypatch, "10.3.0")
    # the toy model's two symbols sit in the middle quarter of this crop; in "training" they filled it
    spec = toy_spec("argmax_max").replace(framing={"margin": 0.0, "spans": {"2": [0.0, 1.0]}})
    onnx_path = tmp_path / "toy.onnx"
    onnx.save(build_toy_model(spec), onnx_path)
    path, _ = build_engine(onnx_path, BuildOptions(precision="fp16", batch=(1, 8, 16), out_dir=str(tmp_path / "e")),
                           say=lambda m: None)
    loose = toy_crop(["", "", "", "A", "B", "", "", ""], spec)
    with Recognizer(path, cross_check=False) as rec:
        assert rec.reframe and rec.spec.framing["spans"] == {"2": (0.0, 1.0)}
        trt.calls.clear()
        assert [r.text for r in rec.recognize_batch([loose, toy_crop(BANDS, spec)])] == ["AB", "ABCA"]
        # both crops read first, then only the loose one again (the other reads 4 symbols: no span)
        assert [c for c in trt.calls if c[0] == "execute"] == [("execute", (2, 3, 16, 32)), ("execute", (1, 3, 16, 32))]
        assert rec.last_timings["reframe"] > 0
    with Recognizer(path, reframe=False, cross_check=False) as rec:
        trt.calls.clear()
        assert rec.recognize(loose).text == "AB"
        assert [c for c in trt.calls if c[0] == "execute"] == [("execute", (1, 3, 16, 32))]


def test_a_server_merges_no_more_rows_than_the_engine_takes(engine):
    from lpr_edge.deploy.triton_server import ModelInstance, ServeOptions

    path, spec, trt, cuda = engine
    instance = ModelInstance(ServeOptions(model=str(path), backend="tensorrt", max_batch=64), threads=1)
    try:
        assert instance.max_batch == 16  # the profile's end, not --max-batch: what Triton is told it may merge
    finally:
        instance.close()


def test_engines_of_tao_style_models_give_the_posterior(monkeypatch, tmp_path):
    from lpr_edge.bundled import resolve_model
    from lpr_edge.datasets import load_dataset, load_images

    from ..conftest import US_DATA, need

    crops, _, _ = load_images(load_dataset(need(US_DATA)).samples[:12])
    with Recognizer("us") as local:
        want = local.recognize_batch(crops)
    doubles.install(monkeypatch, "10.3.0")
    path, manifest = build_engine(resolve_model("us"), BuildOptions(precision="fp16", batch=(1, 8, 16),
                                                                    out_dir=str(tmp_path)), say=lambda m: None)
    assert manifest.extra["probabilities"] == "/Softmax_output_0"  # lpr-edge build marks the softmax an output
    with Recognizer(path) as rec:
        assert rec.backend_name == "tensorrt" and rec.probabilities == "/Softmax_output_0" and not rec.cross_check
        got = rec.recognize_batch(crops)
    assert [r.text for r in got] == [r.text for r in want]
    # the double runs an FP16 engine's body in FP16 (the head pinned FP32): within FP16's rounding
    assert [r.confidence for r in got] == pytest.approx([r.confidence for r in want], abs=2e-3)


def test_an_fp16_engines_head_is_fp32_only_because_it_is_pinned(monkeypatch, tmp_path):
    """The double runs FP16 engines in FP16 but for the layers pinned to FP32, so a head left to FP16
    shows on the CPU: its probabilities round to 0 where FP32's are small."""
    from lpr_edge import synth, trt_compat
    from lpr_edge.bundled import resolve_model
    from lpr_edge.runtime.preprocess import preprocess_batch

    crops = [p.image for p in synth.generate(16, seed=4)]
    doubles.install(monkeypatch, "10.3.0")

    def probabilities(out):
        path, _ = build_engine(resolve_model("us"), BuildOptions(precision="fp16", batch=(1, 8, 16), out_dir=out),
                               say=lambda m: None)
        with Recognizer(path) as rec:
            return rec._backend.infer(preprocess_batch(crops, rec.spec)).outputs[rec.probabilities]

    pinned = probabilities(str(tmp_path / "pinned"))
    monkeypatch.setattr(trt_compat, "pin_head_fp32", lambda trt, network, config: 0)
    loose = probabilities(str(tmp_path / "loose"))
    assert (pinned > 0).all() and (loose == 0).mean() > 0.3
