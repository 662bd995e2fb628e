"""Calibration cache format, scales vs observed ranges, Q/DQ and FP16 models run in ONNX Runtime."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from lpr_edge.errors import InputError, ModelFileError
from lpr_edge.formats.onnx_spec import load_onnx, spec_from_model
from lpr_edge.formats.trt_cache import (
    CalibrationCache,
    parse_cache,
    read_cache,
    scale_to_hex,
    version_code,
    write_cache,
)
from lpr_edge.runtime.preprocess import preprocess_batch
from lpr_edge.toolchain.calibrate import collect_amax, entropy_amax, float_tensor_names, make_cache
from lpr_edge.toolchain.onnx_prep import to_fp16
from lpr_edge.toolchain.qdq import make_qdq_model

from ..conftest import REPO, toy_model_and_crops

# Lines of real TensorRT caches quoted in the shared reference (cuDLA-samples qat2ptq.cache, a TRT 8.4 cache).
REAL_CACHE = """TRT-8600-EntropyCalibration2
images: 3c00f9f4
/model.0/act/Mul_output_0: 3e6c9314
/model.1/act/Mul_output_0: 3e870ad0
366: 0
"""


def test_parses_real_tensorrt_cache_lines():
    cache = parse_cache(REAL_CACHE)
    assert (cache.version_code, cache.algorithm) == (8600, "EntropyCalibration2")
    assert cache.scales["images"] == pytest.approx(0.0078721, rel=1e-4)
    assert cache.amax("images") == pytest.approx(0.99976, rel=1e-4)
    assert cache.scales["366"] == 0.0
    assert len(cache.scales) == 4


def test_round_trip_and_hex_encoding(tmp_path):
    assert scale_to_hex(parse_cache(REAL_CACHE).scales["images"]) == "3c00f9f4"  # big-endian float bits
    assert scale_to_hex(0.0) == "0"
    assert (version_code("8.5.2"), version_code("10.3"), version_code("11.4.0.106")) == (8502, 100300, 110400)
    cache = CalibrationCache({"image_input": 1 / 127, "a/b:c": 0.5, "zero": 0.0}, 100300, "MinMaxCalibration")
    write_cache(tmp_path / "c.cache", cache)
    text = (tmp_path / "c.cache").read_text()
    assert text.splitlines()[0] == "TRT-100300-MinMaxCalibration" and "zero: 0\n" in text
    back = read_cache(tmp_path / "c.cache")
    assert back.scales == pytest.approx(cache.scales) and back.header == cache.header


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"\x89PNG\x00\x01", "binary"), (b"hello\nworld\n", "not a TensorRT calibration cache"),
    (b"TRT-8502-EntropyCalibration2\nname 3c00f9f4\n", "line 2"),
])
def test_bad_cache_files(tmp_path, content, message):
    (tmp_path / "bad.cache").write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        read_cache(tmp_path / "bad.cache")
    with pytest.raises(ModelFileError, match="does not exist"):
        read_cache(tmp_path / "none.cache")


def _toy(tmp_path):
    return toy_model_and_crops(tmp_path)


def test_max_scales_match_ranges_onnxruntime_sees(tmp_path):
    path, spec, crops = _toy(tmp_path)
    amax = collect_amax(path, crops, spec, "max", batch=8)
    model = load_onnx(path)
    assert set(amax) <= float_tensor_names(model) and "image" in amax
    # Observe the same tensors directly: expose the inner ones as outputs and take max |x|. (The input
    # itself is compared with the preprocessed batch: onnxruntime 1.19, the last for Python 3.8,
    # returns garbage for a graph input listed as an output.)
    x = preprocess_batch(crops, spec)
    for name in ("pooled", "conv"):
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = sess.run(["pooled", "conv"], {"image": x})
    assert amax["image"] == pytest.approx(float(np.abs(x).max()), rel=1e-5)
    for name, value in zip(("pooled", "conv"), outs):
        assert amax[name] == pytest.approx(float(np.abs(value).max()), rel=1e-5)


def test_reader_keeps_every_batch_it_handed_out_alive():
    """onnxruntime 1.19 returns the graph input (which the calibrators list as an output) as a view of
    the caller's buffer without holding it: a batch freed after its run made the input's statistics
    garbage (NaN in CI on Python 3.8). The reader must keep what it fed."""
    import gc
    import weakref

    from lpr_edge.toolchain.calibrate import _Reader

    reader = _Reader((np.full((2, 3, 4, 4), float(i), np.float32) for i in range(3)), "image")
    handed = []
    while (item := reader.get_next()) is not None:
        handed.append(weakref.ref(item["image"]))
        del item
    gc.collect()
    assert len(handed) == 3 and all(ref() is not None for ref in handed)


@pytest.mark.filterwarnings("ignore:All-NaN")
@pytest.mark.parametrize("method", ["entropy", "max"])
def test_nan_activation_is_refused_naming_the_tensor(tmp_path, method):
    from onnx import TensorProto, helper, numpy_helper

    from lpr_edge.errors import InferenceError

    _, spec, crops = _toy(tmp_path)
    # sqrt(x - 2) of images normalised to [0, 1]: NaN everywhere, as a model that overflows would give.
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    nodes = [helper.make_node("Sub", ["image", "two"], ["shifted"]), helper.make_node("Sqrt", ["shifted"], ["root"])]
    graph = helper.make_graph(nodes, "nan", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                                           [None, *spec.input_shape])],
                              [helper.make_tensor_value_info("root", TensorProto.FLOAT, None)], [two])
    path = tmp_path / "nan.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(InferenceError, match="NaN or infinite values for tensor 'root'.*--from-cache"):
        collect_amax(path, crops, spec, method, batch=8)


def test_entropy_threshold_clips_outliers_only():
    rng = np.random.default_rng(0)
    relu = np.maximum(rng.normal(size=200_000), 0).astype(np.float32)
    relu[:5] = 40.0  # a handful of outliers stretch the range
    hist, edges = np.histogram(np.abs(relu), bins=2048)
    amax = entropy_amax(hist, edges)
    assert 2.0 < amax < 10.0


def test_qdq_model_from_cache_runs_and_reads(tmp_path):
    path, spec, crops = _toy(tmp_path)
    cache = make_cache(collect_amax(path, crops, spec, "entropy", batch=8), "8.5.2", "entropy")
    assert cache.header == "TRT-8502-EntropyCalibration2"
    out = make_qdq_model(path, cache, tmp_path / "toy.qdq.onnx")
    q = onnx.load(out)
    onnx.checker.check_model(q)
    ops = [n.op_type for n in q.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    assert spec_from_model(q) == spec
    scales = {n.input[0]: n.input[1] for n in q.graph.node if n.op_type == "QuantizeLinear"}
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in q.graph.initializer}
    assert float(inits[scales["pooled"]]) == pytest.approx(cache.scales["pooled"], rel=1e-6)  # the cache's scale
    x = preprocess_batch(crops, spec)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x})
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"image": x})
    assert (ref[0] == got[0]).mean() > 0.95


def test_cache_for_another_model_is_refused(tmp_path):
    path, spec, crops = _toy(tmp_path)
    with pytest.raises(ModelFileError, match="another model"):
        make_qdq_model(path, CalibrationCache({"not_in_model": 0.1}), tmp_path / "x.onnx")


def test_fp16_model_close_to_fp32(tmp_path):
    path, spec, crops = _toy(tmp_path)
    half = to_fp16(load_onnx(path), spec)
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in half.graph.initializer)
    x = preprocess_batch(crops, spec)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x})
    got = ort.InferenceSession(half.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"image": x})
    assert got[0].dtype == np.int32 and (ref[0] == got[0]).all()
    np.testing.assert_allclose(ref[1], got[1], atol=2e-3)


def test_keep_float_drops_scales_and_skips_those_nodes(tmp_path):
    from lpr_edge.errors import InputError
    from lpr_edge.toolchain.calibrate import drop_scales, float_kept_tensors

    path, spec, crops = _toy(tmp_path)
    model = load_onnx(path)
    assert float_kept_tensors(model, ["first"]) == {"pooled"} == float_kept_tensors(model, ["last"])
    cache = make_cache(collect_amax(path, crops, spec, "max"), "10.3", "max")
    kept = drop_scales(cache, float_kept_tensors(model, ["first", "last"]))
    assert "pooled" in cache.scales and "pooled" not in kept.scales and "conv" in kept.scales
    q = onnx.load(make_qdq_model(path, kept, tmp_path / "k.onnx"))
    conv = [n for n in q.graph.node if n.op_type == "Conv"][0]
    assert conv.input[0] == "pooled"  # no Q/DQ in front of the kept convolution
    with pytest.raises(InputError, match="neither first/last nor node names"):
        float_kept_tensors(model, ["middle"])


def test_keep_float_with_from_cache_takes_layers_out_of_the_given_cache(tmp_path):
    # --keep-float used to be ignored with --from-cache: the Q/DQ models came out all-INT8 as cached.
    from lpr_edge.cli import main

    path, spec, crops = _toy(tmp_path)
    given = tmp_path / "given.cache"
    write_cache(given, make_cache(collect_amax(path, crops, spec, "max"), "10.3", "max"))
    out = tmp_path / "out"
    args = ["calibrate", "--onnx", str(path), "--from-cache", str(given), "--cache", str(out / "k.cache"),
            "--qdq", str(out / "k.qdq.onnx"), "--cpu-qdq", str(out / "k.cpu.qdq.onnx")]
    assert main(args) == 0
    assert not (out / "k.cache").exists()  # nothing asked of the cache: used as given
    assert "pooled" in {n.input[0] for n in onnx.load(out / "k.qdq.onnx").graph.node if n.op_type == "QuantizeLinear"}
    assert main(args + ["--keep-float", "last", "--force"]) == 0  # replacing the set made above
    assert "pooled" not in read_cache(out / "k.cache").scales and "pooled" in read_cache(given).scales
    conv = [n for n in onnx.load(out / "k.qdq.onnx").graph.node if n.op_type == "Conv"][0]
    assert conv.input[0] == "pooled"
    assert main(args + ["--keep-float", "middle"]) == 2


def _zero_point_types(q) -> dict[str, int]:
    """Q/DQ input tensor -> element type of its zero point."""
    inits = {i.name: i for i in q.graph.initializer}
    return {n.input[0]: inits[n.input[2]].data_type for n in q.graph.node
            if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 2}


def test_tensorrt_qdq_is_int8_only_with_float_bias(tmp_path):
    # TensorRT's parser rejects an int32 DequantizeLinear (ONNX Runtime's quantized bias).
    path, spec, crops = _toy(tmp_path)
    cache = make_cache(collect_amax(path, crops, spec, "max"), "10.3", "max")
    q = onnx.load(make_qdq_model(path, cache, tmp_path / "t.onnx"))
    assert set(_zero_point_types(q).values()) == {onnx.TensorProto.INT8}
    inits = {i.name for i in q.graph.initializer}
    conv = [n for n in q.graph.node if n.op_type == "Conv"][0]
    assert conv.input[2] in inits  # float bias, no DequantizeLinear in front
    produced_by = {o: n.op_type for n in q.graph.node for o in n.output}
    assert produced_by[conv.input[0]] == "DequantizeLinear" and produced_by[conv.input[1]] == "DequantizeLinear"
    # Q/DQ on inputs only: the convolution's own output goes on in float.
    assert all(n.input[0] != conv.output[0] for n in q.graph.node if n.op_type == "QuantizeLinear")


def test_cpu_qdq_uses_uint8_with_the_same_ranges(tmp_path):
    from lpr_edge.toolchain.qdq import nonnegative_tensors

    path, spec, crops = _toy(tmp_path)
    cache = make_cache(collect_amax(path, crops, spec, "max"), "10.3", "max")
    out = make_qdq_model(path, cache, tmp_path / "c.onnx", target="cpu")
    q = onnx.load(out)
    acts = {k: v for k, v in _zero_point_types(q).items() if k in cache.scales}
    assert acts and set(acts.values()) == {onnx.TensorProto.UINT8}
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in q.graph.initializer}
    # The toy's pooled pixels (x/255) are non-negative: [0, amax] in 255 steps, zero point 0.
    assert "pooled" in nonnegative_tensors(load_onnx(path), ["image"])
    (qn,) = [n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "pooled"]
    assert int(inits[qn.input[2]]) == 0
    assert float(inits[qn.input[1]]) * 255 == pytest.approx(cache.amax("pooled"), rel=1e-5)
    x = preprocess_batch(crops, spec)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x})
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"image": x})
    assert (ref[0] == got[0]).mean() > 0.95
    with pytest.raises(InputError, match="unknown Q/DQ target"):
        make_qdq_model(path, cache, tmp_path / "x.onnx", target="gpu")


def test_nonnegative_tensors_follow_relu_through_pooling_and_concat():
    from onnx import helper

    from lpr_edge.toolchain.qdq import nonnegative_tensors

    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[1, 1]),
             helper.make_node("Conv", ["p", "w"], ["c"]), helper.make_node("Concat", ["p", "r"], ["j"], axis=1),
             helper.make_node("Concat", ["p", "c"], ["k"], axis=1)]
    graph = helper.make_graph(nodes, "g", [], [])
    assert nonnegative_tensors(helper.make_model(graph)) == {"r", "p", "j"}


def test_calibrate_cli_writes_cache_and_both_qdq_models_and_compares(tmp_path, capsys):
    import json

    from lpr_edge.cli import main

    from ..conftest import REPO

    out = {k: tmp_path / n for k, n in (("cache", "m.cache"), ("qdq", "m.qdq.onnx"), ("cpu", "m.cpu.qdq.onnx"))}
    assert main(["calibrate", "--data", "synthetic", "--samples", "32", "--trt-version", "8.5.2",
                 "--cache", str(out["cache"]), "--qdq", str(out["qdq"]), "--cpu-qdq", str(out["cpu"]),
                 "--eval-data", str(REPO / "examples" / "samples"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert read_cache(out["cache"]).header == "TRT-8502-EntropyCalibration2" and report["images"] == 32
    c = report["comparison"]
    assert {c[k]["plates"] for k in ("fp32", "int8", "int8_cpu")} == {6} and c["fp32"]["perfect_match"] == 1.0
    assert c["speedup"] > 0 and all(c[k]["batch32_ms"] > 0 for k in ("fp32", "int8", "int8_cpu"))
    for path in (out["qdq"], out["cpu"]):
        onnx.checker.check_model(onnx.load(path))


def _residual_model(tmp_path):
    """image -> Conv -> Relu r -> [Conv -> Relu -> Conv c2] + r -> Relu -> Conv; plus a Conv whose output
    is added to its own ReLU (no residual block: nothing to fuse around)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = {k: numpy_helper.from_array(rng.normal(0, 0.3, (4, 4 if k != "w0" else 3, 3, 3)).astype(np.float32), k)
         for k in ("w0", "w1", "w2", "w3", "w4")}
    conv = lambda x, k, y: helper.make_node("Conv", [x, k], [y], pads=[1, 1, 1, 1])  # noqa: E731
    nodes = [conv("image", "w0", "c0"), helper.make_node("Relu", ["c0"], ["r"]),
             conv("r", "w1", "c1"), helper.make_node("Relu", ["c1"], ["r1"]), conv("r1", "w2", "c2"),
             helper.make_node("Add", ["c2", "r"], ["sum"]), helper.make_node("Relu", ["sum"], ["r2"]),
             conv("r2", "w3", "c3"), helper.make_node("Relu", ["c3"], ["r3"]),
             helper.make_node("Add", ["c3", "r3"], ["not_residual"]), conv("not_residual", "w4", "out")]
    graph = helper.make_graph(nodes, "res", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], list(w.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "res.onnx"
    onnx.save(model, path)
    return path, model, rng.random((1, 3, 8, 8), dtype=np.float32)


def test_tensorrt_qdq_leaves_the_residual_convolution_branch_to_fuse(tmp_path):
    from lpr_edge.toolchain.qdq import residual_branch_inputs

    path, model, x = _residual_model(tmp_path)
    assert residual_branch_inputs(model) == {"c2"}
    cache = CalibrationCache({t: 0.05 for t in float_tensor_names(model) - {"out"}})
    q = onnx.load(make_qdq_model(path, cache, tmp_path / "t.onnx"))
    produced_by = {o: n.op_type for n in q.graph.node for o in n.output}
    add = next(n for n in q.graph.node if "sum" in n.output)
    # The convolution branch goes into the Add in float (TensorRT fuses Conv+Add), the residual through Q/DQ.
    assert add.input[0] == "c2" and produced_by[add.input[1]] == "DequantizeLinear"
    used = {t for n in q.graph.node for t in n.input}
    assert all(i.name in used for i in q.graph.initializer)  # the dropped pair leaves no constants behind
    onnx.checker.check_model(q)
    got = ort.InferenceSession(q.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    assert np.abs(got - ref).max() < 0.1 * np.abs(ref).max()
    # The CPU form keeps ONNX Runtime's placement (it quantizes the Add for its own int8 kernels).
    c = onnx.load(make_qdq_model(path, cache, tmp_path / "c.onnx", target="cpu"))
    c_add = next(n for n in c.graph.node if n.op_type == "Add")
    assert all({o: n.op_type for n in c.graph.node for o in n.output}[t] == "DequantizeLinear" for t in c_add.input)


def test_bundled_model_residual_blocks_are_all_found():
    from lpr_edge.toolchain.qdq import residual_branch_inputs

    model = load_onnx(REPO / "lpr_edge" / "models" / "lprnet_us.onnx")
    branches = residual_branch_inputs(model)
    adds = [n for n in model.graph.node if n.op_type == "Add"]
    assert len(branches) == len(adds) == 5
    assert all(t.endswith("conv2/conv2.0/Conv_output_0") for t in branches)


def test_calibrate_cli_compares_on_synthetic_plates_plate_by_plate(tmp_path, capsys):
    import json

    from lpr_edge.cli import main

    assert main(["calibrate", "--data", "synthetic", "--samples", "32", "--cache", str(tmp_path / "m.cache"),
                 "--qdq", str(tmp_path / "m.qdq.onnx"), "--cpu-qdq", str(tmp_path / "m.cpu.onnx"),
                 "--eval-data", "synthetic", "--eval-samples", "40", "--json"]) == 0
    c = json.loads(capsys.readouterr().out)["comparison"]
    assert c["data"] == "synthetic (40 plates, seed 2026)" and c["fp32"]["plates"] == 40
    for prec in ("int8", "int8_cpu"):
        p = c[prec]["paired"]
        assert set(p) == {"changed", "gained", "lost", "p_value"} and 0 < p["p_value"] <= 1
        assert (p["gained"] - p["lost"]) / 40 * 100 == pytest.approx(
            c["perfect_match_delta_pt" if prec == "int8" else "cpu_perfect_match_delta_pt"])
    assert main(["calibrate", "--data", "synthetic", "--samples", "8", "--cache", str(tmp_path / "x.cache"),
                 "--eval-data", "synthetic", "--eval-samples", "0"]) == 2
    assert "--eval-samples must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "x.cache").exists()  # refused before any work


def test_layer_sensitivity_finds_the_layer_whose_int8_breaks_readings(tmp_path):
    from lpr_edge import Recognizer
    from lpr_edge.evaluation.harness import SampleSet
    from lpr_edge.toolchain.sensitivity import layer_sensitivity, sensitivity_table

    path, spec, crops = _toy(tmp_path)
    cache = make_cache(collect_amax(path, crops, spec, "max"), "10.3", "max")
    # A range 1,000x too small for the convolution's input: INT8 clips it flat and misreads.
    broken = CalibrationCache({**cache.scales, "pooled": cache.scales["pooled"] / 1000}, cache.version_code)
    with Recognizer(path) as rec:
        labels = [r.text for r in rec.recognize_batch(crops)]
    report = layer_sensitivity(path, broken, SampleSet("toy", crops, labels=labels), spec)
    assert report["fp32"]["perfect_match"] == 1.0 and report["int8"]["perfect_match"] < 0.5
    assert report["int8"]["vs_fp32"]["lost"] > 12
    best, *rest = report["layers"]
    # The toy's nodes are unnamed: they are reported by the names the Q/DQ model gives them.
    assert best["node"] == "Conv_1" and best["perfect_match"] == 1.0 and best["vs_fp32"]["changed"] == 0
    assert best["also_float"] == ["AveragePool_0"]  # it shares the dropped tensor
    assert [r["node"] for r in rest] == ["AveragePool_0"] and rest[0]["perfect_match"] < 0.5
    assert "Conv_1" in sensitivity_table(report)


def test_calibrate_sensitivity_needs_eval_data(tmp_path, capsys):
    from lpr_edge.cli import main

    assert main(["calibrate", "--data", "synthetic", "--samples", "8", "--cache", str(tmp_path / "x.cache"),
                 "--sensitivity"]) == 2
    assert "--sensitivity needs a labelled set" in capsys.readouterr().err
    assert main(["calibrate", "--data", "synthetic", "--samples", "8", "--cache", str(tmp_path / "x.cache"),
                 "--eval-data", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x.cache").exists()  # a bad --eval-data is refused before any work
