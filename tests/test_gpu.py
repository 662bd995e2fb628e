"""Real TensorRT + pycuda on a real GPU: build FP16/INT8 engines and read plates with them.

Skipped, with the reason, wherever TensorRT, pycuda or a CUDA device is missing.
"""
import onnx
import pytest

from lpr_edge import Recognizer
from lpr_edge.backends.tensorrt_backend import unavailable_reason
from lpr_edge.calibrate import collect_amax, make_cache
from lpr_edge.engine_builder import BuildOptions, build_engine
from lpr_edge.trt_cache import write_cache

from .conftest import BANDS, build_toy_model, toy_crop, toy_spec

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
