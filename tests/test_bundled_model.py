"""The bundled US model: the TAO export contract, the README samples, and its shipped INT8 cache."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from lpr_edge import Recognizer
from lpr_edge.calibrate import make_qdq_model
from lpr_edge.datasets import load_dataset
from lpr_edge.evaluation import evaluate
from lpr_edge.onnx_spec import spec_from_model
from lpr_edge.recognizer import bundled_model_path
from lpr_edge.trt_cache import read_cache

from .conftest import REPO, US_DATA, need

CACHE = REPO / "calibration" / "lprnet_us.cache"
QDQ = REPO / "calibration" / "lprnet_us.qdq.onnx"
CPU_QDQ = REPO / "calibration" / "lprnet_us.cpu.qdq.onnx"


def test_export_contract():
    path = bundled_model_path()
    model = onnx.load(path)
    onnx.checker.check_model(model)
    spec = spec_from_model(model)
    assert (spec.input_name, spec.input_shape, spec.color, spec.scale[0]) == ("image_input", (3, 48, 96), "RGB", 1 / 255)
    assert spec.outputs == ("tf_op_layer_ArgMax", "tf_op_layer_Max") and spec.blank == 35
    assert spec.charset == "0123456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == "image_input" and inp.shape[1:] == [3, 48, 96] and not isinstance(inp.shape[0], int)
    idx, score = sess.run(None, {"image_input": np.random.default_rng(0).random((5, 3, 48, 96), np.float32)})
    assert idx.dtype == np.int32 and idx.shape == (5, 24) and score.dtype == np.float32 and score.shape == (5, 24)
    assert (0 <= idx).all() and (idx <= 35).all() and (score > 0).all() and (score <= 1).all()
    assert path.stat().st_size < 10 << 20


def test_reads_the_readme_samples():
    samples = load_dataset(REPO / "examples" / "samples").samples
    assert len(samples) == 6
    with Recognizer() as rec:
        assert rec.backend_name == "onnxruntime" and rec.model_path == bundled_model_path()
        assert evaluate(rec, samples).accuracy.perfect_match == 1.0


def test_shipped_cache_and_qdq_match():
    cache = read_cache(CACHE)
    assert cache.header == "TRT-100300-EntropyCalibration2" and "image_input" not in cache.scales  # stem kept float
    q = onnx.load(QDQ)
    onnx.checker.check_model(q)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in q.graph.initializer}
    quant = [n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in cache.scales]
    assert quant and all(float(inits[n.input[1]]) == pytest.approx(cache.scales[n.input[0]], rel=1e-6) for n in quant)
    # TensorRT form: int8 only (an int32 bias DequantizeLinear does not parse in TensorRT).
    assert all(inits[n.input[2]].dtype == np.int8 for n in q.graph.node if n.op_type == "DequantizeLinear")
    # CPU form: the same ranges, as uint8; ReLU outputs [0, amax] with zero point 0.
    c = onnx.load(CPU_QDQ)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in c.graph.initializer}
    quant = [n for n in c.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in cache.scales]
    relu = [n for n in quant if n.input[0].endswith("Relu_output_0")]
    assert relu and all(inits[n.input[2]].dtype == np.uint8 for n in quant)
    assert all(int(inits[n.input[2]]) == 0 and float(inits[n.input[1]]) * 255 == pytest.approx(
        cache.amax(n.input[0]), rel=1e-5) for n in relu)


@pytest.mark.slow
def test_int8_on_us_validation_cpu_form_lossless_tensorrt_form_within_one_plate(tmp_path):
    from lpr_edge.datasets import split

    _, val = split(load_dataset(need(US_DATA)).samples)
    rebuilt = make_qdq_model(bundled_model_path(), read_cache(CACHE), tmp_path / "q.onnx")
    with Recognizer() as fp32, Recognizer(QDQ) as int8, Recognizer(rebuilt) as again, Recognizer(CPU_QDQ) as cpu:
        a, b, c, d = (evaluate(r, val).accuracy for r in (fp32, int8, again, cpu))
    assert a.plates == 150 and a.perfect_match >= 0.92 and a.per_char_match >= 0.98
    # TensorRT form: at most one plate of 150 (measured: exactly one, calibration/README.md); CPU form: none
    assert b.perfect_match >= a.perfect_match - 1 / 150 - 1e-9 and c.perfect_match == b.perfect_match
    assert d.perfect_match >= a.perfect_match - 0.005
