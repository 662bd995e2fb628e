"""TensorRT and pycuda as their sources say they behave (issue: "TensorRT as it really behaves").

Each test pins one defect found by reading TensorRT's and pycuda's sources; the doubles in
``tests/doubles`` model that behaviour (cache header matching, calibration at the OPT shape, DLA rules,
``set_input_shape`` returning False, pycuda's thread-bound ``detach``), so each fails without its fix.
"""
from __future__ import annotations

import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lpr_edge import Recognizer, errors
from lpr_edge.errors import InputError
from lpr_edge.formats.onnx_spec import spec_from_model
from lpr_edge.runtime.preprocess import preprocess_batch
from lpr_edge.toolchain.engine_builder import BuildOptions, build_engine

from .. import doubles
from ..conftest import BANDS, REPO, toy_crop, toy_spec
from .test_build import toy_cache


def build(tmp_path, path, **kw):
    return build_engine(path, BuildOptions(out_dir=str(tmp_path / "engines"), **kw), say=lambda m: None)


def test_each_version_exposes_only_its_own_names(monkeypatch):
    trt85, _ = doubles.install(monkeypatch, "8.5.2")
    assert not hasattr(trt85.BuilderFlag, "VERSION_COMPATIBLE") and not hasattr(trt85.DataType, "INT64")
    with pytest.raises(AttributeError):
        trt85.IBuilderConfig().builder_optimization_level = 3
    trt10, _ = doubles.install(monkeypatch, "10.3.0")
    assert hasattr(trt10.BuilderFlag, "VERSION_COMPATIBLE") and hasattr(trt10.DataType, "INT64")
    trt11, _ = doubles.install(monkeypatch, "11.4.0")
    assert not hasattr(trt11, "IInt8EntropyCalibrator2") and not hasattr(trt11.BuilderFlag, "INT8")


@pytest.mark.parametrize("version", ["8.5.2", "10.3.0"])
def test_a_cache_of_another_method_or_version_is_used_without_calibrating(monkeypatch, tmp_path, toy, version):
    # Defects 1 and 2: a MinMax cache, or one headed TRT-100300, was ignored by TensorRT, which then
    # asked the calibrator for batches it did not have and failed the build.
    trt, _ = doubles.install(monkeypatch, version)
    cache = toy_cache(*toy, tmp_path / "toy.cache")  # --method max, TRT-100300
    engine, manifest = build(tmp_path, toy[0], precision="int8", calib_cache=str(cache))
    assert ("calibration_cache_used", f"TRT-{doubles.version_code(version)}-EntropyCalibration2") in trt.calls
    assert not trt.errors


def test_bundled_cache_on_tensorrt_85_through_the_cli(monkeypatch, tmp_path, capsys):
    from lpr_edge.cli import main
    from lpr_edge.formats.engine_manifest import read_manifest

    trt, _ = doubles.install(monkeypatch, "8.5.2")
    cache = REPO / "calibration" / "lprnet_us.cache"
    assert cache.read_text().startswith("TRT-100300-")
    assert main(["build", "--int8", "--calib-cache", str(cache), "--out", str(tmp_path)]) == 0
    engine = capsys.readouterr().out.strip().splitlines()[-1]
    assert ("calibration_cache_used", "TRT-8502-EntropyCalibration2") in trt.calls
    assert not any(c[0] == "calibrating" for c in trt.calls)
    assert read_manifest(engine).extra["cache_header_served"] == "TRT-8502-EntropyCalibration2"


def test_calibration_batches_are_full_opt_batches():
    from lpr_edge.toolchain.int8_sources import calibration_batches

    crops = [np.full((4, 4, 3), i, np.uint8) for i in range(10)]
    batches = calibration_batches(crops, 4)
    assert [len(b) for b in batches] == [4, 4, 4]
    assert [int(c[0, 0, 0]) for c in batches[-1]] == [8, 9, 0, 1]  # filled from the start
    assert [len(b) for b in calibration_batches(crops[:2], 4)] == [4]
    with pytest.raises(InputError, match="no readable crops"):
        calibration_batches([], 4)


def test_fewer_crops_than_opt_still_calibrate_at_the_opt_shape(monkeypatch, tmp_path, toy):
    # Defect 3: two crops at OPT 4 went in as one short batch: unwritten rows entered the statistics.
    trt, cuda = doubles.install(monkeypatch, "10.3.0")
    build(tmp_path, toy[0], precision="int8", calib_data=[toy_crop(BANDS, toy[1])] * 2, batch=(1, 4, 8),
          cache_out=str(tmp_path / "made.cache"))
    assert ("calibrated", 1) in trt.calls and not trt.errors
    assert [e[1] for e in cuda.log if e[0] == "htod"] == [4 * 3 * 16 * 32 * 4]
    # TensorRT reads the whole OPT batch whatever was written: every row it read is a real crop.
    read, = trt.calibration_reads
    expected = preprocess_batch([toy_crop(BANDS, toy[1])], spec_from_model(onnx.load(str(toy[0]))))[0]
    for row in read:
        np.testing.assert_array_equal(row, expected)


def test_dla_needs_a_fixed_profile_and_fp16_or_int8(monkeypatch, tmp_path, toy):
    doubles.install(monkeypatch, "10.3.0", dla_cores=2)
    with pytest.raises(InputError, match="no dynamic shapes"):
        build(tmp_path, toy[0], precision="fp16", dla_core=0, batch=(1, 8, 32))
    with pytest.raises(InputError, match="FP16 or INT8 only"):
        build(tmp_path, toy[0], precision="fp32", dla_core=0, batch=(8, 8, 8))


def test_dla_without_gpu_fallback_names_the_layers_dla_cannot_run(monkeypatch, tmp_path, toy, capsys):
    """A TAO-style head's ArgMax is parsed into a TopK, which DLA cannot run: without --gpu-fallback the
    build used to fail with 'try a larger --workspace or another precision'."""
    from lpr_edge.cli import main

    trt, _ = doubles.install(monkeypatch, "10.3.0", dla_cores=1)
    assert main(["build", "--onnx", str(toy[0]), "--dla", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot run on DLA (ArgMax" in err and "(TOPK)" in err and "add --gpu-fallback" in err
    assert not [c for c in trt.calls if c[0] == "build"]  # refused before the minutes of building


def test_dla_engine_loads_on_its_core_and_pads_small_batches(monkeypatch, tmp_path, toy):
    # Defect 4 (runtime half): IRuntime.DLA_core defaults to -1; defect 5: batches below MIN.
    trt, cuda = doubles.install(monkeypatch, "10.3.0", dla_cores=2)
    engine, _ = build(tmp_path, toy[0], precision="fp16", dla_core=1, batch=(4, 4, 4), gpu_fallback=True)
    with Recognizer(engine, cross_check=False) as rec:
        assert rec.max_batch == 4
        assert [r.text for r in rec.recognize_batch([toy_crop(BANDS, toy[1])] * 5)] == ["ABCA"] * 5
    assert [c[1][0] for c in trt.calls if c[0] == "execute"] == [4, 4]  # 5 crops: 4, then 1 padded to 4
    assert not trt.errors


def test_cli_dla_without_batch_fixes_the_profile(monkeypatch, tmp_path, toy, capsys):
    from lpr_edge.cli import main
    from lpr_edge.formats.engine_manifest import read_manifest

    doubles.install(monkeypatch, "10.3.0", dla_cores=1)
    assert main(["build", "--onnx", str(toy[0]), "--dla", "0", "--gpu-fallback", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert read_manifest(out.out.strip().splitlines()[-1]).profile == (8, 8, 8)
    assert "DLA has no dynamic shapes" in out.err
    assert main(["build", "--onnx", str(toy[0]), "--dla", "0", "--batch", "1,8,32", "--out", str(tmp_path)]) == 2


def test_refused_input_shape_is_an_inference_error(monkeypatch, tmp_path, toy):
    trt, cuda = doubles.install(monkeypatch, "10.3.0")
    engine, _ = build(tmp_path, toy[0], precision="fp16", batch=(2, 4, 8))
    with Recognizer(engine) as rec:
        assert rec.recognize(toy_crop(BANDS, toy[1])).text == "ABCA"  # 1 crop padded up to MIN 2
        assert trt.calls[-1] == ("execute", (2, 3, 16, 32))
        rec._backend._context.set_input_shape = lambda name, shape: False
        with pytest.raises(getattr(errors, "InferenceError", ()), match="refused input shape"):
            rec.recognize(toy_crop(BANDS, toy[1]))


def test_primary_context_released_from_the_owning_and_other_threads(monkeypatch, tmp_path, toy):
    # Defect 6: pycuda's detach() from another thread is a no-op, and on the owning thread with
    # the context not current it releases without popping.
    trt, cuda = doubles.install(monkeypatch, "10.3.0")
    engine, _ = build(tmp_path, toy[0], precision="fp16", batch=(1, 4, 8))
    assert cuda.retains == 0  # the builder released what it retained
    rec = Recognizer(engine)
    assert cuda.retains == 1
    rec.close()
    assert cuda.retains == 0 and cuda.current_context_depth() == 0
    assert ("detach", "released") in cuda.log
    rec = Recognizer(engine)
    worker = threading.Thread(target=rec.close)
    worker.start()
    worker.join()
    assert cuda.retains == 0 and ("driver_release", 0) in cuda.log


def test_memory_dies_with_the_primary_context(monkeypatch, tmp_path, toy):
    """The pycuda double let a buffer be used after its context was gone; CUDA destroys a primary context's
    allocations with its last release. A Recognizer opened after another closed allocates its own."""
    trt, cuda = doubles.install(monkeypatch, "10.3.0")
    engine, _ = build(tmp_path, toy[0], precision="fp16", batch=(1, 4, 8))
    rec = Recognizer(engine)
    rec.recognize(toy_crop(BANDS, toy[1]))
    pointers = sorted(cuda.memory)
    assert pointers
    rec.close()
    for pointer in pointers:
        with pytest.raises(cuda.LogicError, match="memory freed, or its context destroyed"):
            cuda.device_bytes(pointer)
    with Recognizer(engine) as again:
        assert again.recognize(toy_crop(BANDS, toy[1])).text == "ABCA"


def test_fp16_qdq_scales_never_underflow_to_zero(tmp_path):
    # Defect 7: a per-channel scale below FP16's smallest value became 0, which TensorRT rejects.
    from lpr_edge.toolchain.onnx_prep import to_fp16

    spec = toy_spec("logits")
    w = np.ones((2, 3, 1, 1), np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([1e-9, 0.01], np.float32), "ws"),
             numpy_helper.from_array(np.zeros(2, np.int8), "wz"), numpy_helper.from_array(np.int8(0), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["w", "ws", "wz"], ["wq"], axis=0),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
             helper.make_node("Conv", ["x", "wd"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    fp16 = to_fp16(model, spec.replace(input_name="x", outputs=("y",), output_kind="logits"))
    scales = [numpy_helper.to_array(i) for i in fp16.graph.initializer if i.name.startswith("ws")]
    assert scales and all((s > 0).all() for s in scales)
    assert float(scales[0].min()) == pytest.approx(2.0 ** -24)  # the smallest FP16 value


def test_tensorrt_85_runtime_never_calls_nptype(monkeypatch, tmp_path, toy):
    # TensorRT 8.5's trt.nptype raises with NumPy >= 1.24 (np.bool; NVIDIA/TensorRT#2557), the
    # NumPy every Python 3.8 install gets: the runtime maps dtypes itself.
    trt, _ = doubles.install(monkeypatch, "8.5.2")
    monkeypatch.setattr(np, "__version__", "1.24.4")
    with pytest.raises(AttributeError, match="bool"):
        trt.nptype(trt.DataType.FLOAT)
    engine, _ = build(tmp_path, toy[0], precision="fp16", batch=(1, 4, 8))
    with Recognizer(engine) as rec:
        assert rec.recognize(toy_crop(BANDS, toy[1])).text == "ABCA"


def test_the_doubles_surfaces_follow_each_version():
    """The 8.5 double had STRONGLY_TYPED (real 8.5: EXPLICIT_BATCH and EXPLICIT_PRECISION), no UINT8, and
    an nptype that failed on every 8.5.x (only 8.5.1/8.5.2 use np.bool)."""
    import numpy as np

    from ..doubles.tensorrt_double import make_tensorrt

    flags = {v: vars(make_tensorrt(v, None).NetworkDefinitionCreationFlag) for v in ("8.5.2", "10.3.0", "11.4.0")}
    assert flags == {"8.5.2": {"EXPLICIT_BATCH": 0, "EXPLICIT_PRECISION": 1},
                     "10.3.0": {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1}, "11.4.0": {"STRONGLY_TYPED": 0}}
    assert hasattr(make_tensorrt("8.5.2", None).DataType, "UINT8")
    assert not hasattr(make_tensorrt("8.5.2", None).DataType, "BF16")
    assert hasattr(make_tensorrt("10.3.0", None).DataType, "BF16")
    new_numpy = tuple(int(v) for v in np.__version__.split(".")[:2]) >= (1, 24)
    for version, broken in (("8.5.2", new_numpy), ("8.5.3", False), ("10.3.0", False)):
        trt = make_tensorrt(version, None)
        if broken:
            with pytest.raises(AttributeError, match="np|numpy"):
                trt.nptype(trt.DataType.FLOAT)
        else:
            assert trt.nptype(trt.DataType.FLOAT) is np.float32


def test_tensorrt_11s_fp16_form_keeps_the_head_in_fp32():
    """The FP16 converter put Cast(FP16) -> Cast(FP32) behind the blocked Softmax and ReduceMax: the
    probabilities, the confidences and what ArgMax saw went through FP16 (on 740 real US crops 76 % of
    the probabilities became 0). Now the head's tensors stay FP32 from Softmax to the outputs."""
    import onnxruntime as ort

    from lpr_edge import synth
    from lpr_edge.formats.onnx_spec import load_onnx, resolve_spec
    from lpr_edge.runtime.preprocess import preprocess_batch
    from lpr_edge.toolchain.onnx_prep import prepare, to_fp16

    model = load_onnx(REPO / "lpr_edge" / "models" / "lprnet_us.onnx")
    spec = resolve_spec(model, source="us")
    fp32 = prepare(model, spec, simplify=False)
    fp16 = to_fp16(fp32, spec)
    producers = {out: n.op_type for n in fp16.graph.node for out in n.output}
    to_half = [n for n in fp16.graph.node if n.op_type == "Cast" and n.attribute[0].i == TensorProto.FLOAT16]
    assert not [n for n in to_half if producers.get(n.input[0]) in ("Softmax", "ReduceMax")]
    x = preprocess_batch([p.image for p in synth.generate(32, seed=3)], spec)
    names = [*spec.outputs, "/Softmax_output_0"]
    want, got = (ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
                 .run(names, {spec.input_name: x}) for m in (fp32, fp16))
    assert np.array_equal(want[0], got[0])  # the same ArgMax
    assert (got[2] > 0).all() and np.abs(got[2] - want[2]).max() < 0.01  # no probability flushed to 0
