"""Real TensorRT + pycuda on a real GPU: build FP16/INT8 engines and read plates with them.

Skipped, with the reason, wherever TensorRT, pycuda or a CUDA device is missing.
"""
from __future__ import annotations

import onnx
import pytest

from lpr_edge import Recognizer
from lpr_edge.formats.trt_cache import write_cache
from lpr_edge.gpu_stack import unavailable_reason
from lpr_edge.toolchain.calibrate import collect_amax, make_cache
from lpr_edge.toolchain.engine_builder import BuildOptions, build_engine

from ..conftest import BANDS, build_toy_model, toy_crop, toy_spec

pytestmark = pytest.mark.gpu
REASON = unavailable_reason()


@pytest.mark.skipif(REASON is not None, reason=f"needs TensorRT + pycuda + GPU: {REASON}")
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_real_engine_reads_plates(tmp_path, precision):
    import tensorrt as trt

    spec = toy_spec("argmax_max")
    onnx.save(build_toy_model(spec), tmp_path / "toy.onnx")
    crops = [toy_crop(BANDS, spec), toy_crop(["A"] * 8, spec), toy_crop(["B", "C"] * 4, spec)] * 4
    cache = tmp_path / "toy.cache"
    write_cache(cache, make_cache(collect_amax(tmp_path / "toy.onnx", crops, spec, "max"), trt.__version__, "max"))
    engine, manifest = build_engine(tmp_path / "toy.onnx", BuildOptions(
        precision=precision, calib_cache=str(cache) if precision == "int8" else None, batch=(1, 4, 8),
        out_dir=str(tmp_path)))
    with Recognizer(tmp_path / "toy.onnx") as cpu, Recognizer(engine) as gpu:
        assert gpu.backend_name == "tensorrt"
        want = [r.text for r in cpu.recognize_batch(crops)]
        assert [r.text for r in gpu.recognize_batch(crops)] == want
        for _ in range(200):  # buffers are reused, nothing accumulates
            gpu.recognize_batch(crops[:5])
        assert gpu.last_timings["compute"] >= 0


@pytest.mark.skipif(REASON is not None, reason=f"needs TensorRT + pycuda + GPU: {REASON}")
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_bundled_model_engine_reads_us_validation_like_fp32(tmp_path, precision):
    from lpr_edge.bundled import bundled_path
    from lpr_edge.datasets import load_dataset, split
    from lpr_edge.evaluation.harness import evaluate
    from lpr_edge.evaluation.metrics import paired_change

    from ..conftest import REPO, US_DATA, need

    _, val = split(load_dataset(need(US_DATA)).samples)
    cache = str(REPO / "calibration" / "lprnet_us.cache") if precision == "int8" else None
    engine, _ = build_engine(bundled_path(), BuildOptions(precision=precision, calib_cache=cache,
                                                                batch=(1, 8, 32), out_dir=str(tmp_path)))
    with Recognizer() as fp32, Recognizer(engine) as gpu:
        assert gpu.probabilities == fp32.probabilities == "/Softmax_output_0"  # the engine outputs the softmax
        ref, got = evaluate(fp32, val), evaluate(gpu, val)
    if precision == "fp16":  # the CTC posterior from the engine's probabilities, as on the CPU
        same = [a.confidence for a, b in zip(ref.results, got.results) if a.text == b.text]
        assert same == pytest.approx([b.confidence for a, b in zip(ref.results, got.results) if a.text == b.text],
                                     abs=0.02)
    change = paired_change([r.text for r in ref.results], [r.text for r in got.results], ref.labels)
    if precision == "fp16":
        assert change.changed <= 1
    else:  # ONNX Runtime's run of the TensorRT Q/DQ form: +0/-0 (calibration/README.md); real kernels round otherwise
        assert change.lost - change.gained <= 3 and change.p_value >= 0.05
