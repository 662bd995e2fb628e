"""Engine builder against TensorRT 8.5 / 10.3 / 11.4 test doubles, then the engines run."""
from __future__ import annotations

import onnx
import pytest

from lpr_edge import Recognizer
from lpr_edge.errors import BackendUnavailable, InputError, ModelFileError
from lpr_edge.formats.engine_manifest import read_manifest
from lpr_edge.formats.trt_cache import write_cache
from lpr_edge.toolchain.calibrate import collect_amax, make_cache
from lpr_edge.toolchain.engine_builder import BuildOptions, build_engine

from .. import doubles
from ..conftest import BANDS, toy_crop


def toy_cache(path, spec, out):
    crops = [toy_crop(p, spec) for p in (BANDS, ["A"] * 8, ["B", "C"] * 4, [""] * 8)]
    write_cache(out, make_cache(collect_amax(path, crops, spec, "max"), "10.3", "max"))
    return out


def build(tmp_path, path, **kw):
    opts = BuildOptions(out_dir=str(tmp_path / "engines"), timing_cache=str(tmp_path / "timing.cache"), **kw)
    return build_engine(path, opts, say=lambda m: None)


@pytest.mark.parametrize("version, explicit_flag", [("8.5.2", 1), ("10.3.0", 0), ("11.4.0", 0)])
def test_fp16_per_version(monkeypatch, tmp_path, toy, version, explicit_flag):
    trt, cuda = doubles.install(monkeypatch, version)
    engine, manifest = build(tmp_path, toy[0], precision="fp16", batch=(1, 4, 8))
    assert ("create_network", explicit_flag) in trt.calls
    build_call = [c for c in trt.calls if c[0] == "build"][0]
    if version.startswith("11"):
        assert ("set_flag", "FP16") not in trt.calls and build_call[1] == []  # strongly typed: no flags
        model = onnx.load_from_string(engine.read_bytes().split(b"\n", 1)[1])
        assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
        onnx.checker.check_model(model)  # the converter's input casts are sorted into place
    else:
        assert ("set_flag", "FP16") in trt.calls and "INT8" not in build_call[1]
    assert engine.name == f"toy.fp16.trt{version}.fake-gpu.engine"
    assert manifest.profile == (1, 4, 8) and manifest.trt_version == version and manifest.compute_capability == "8.7"
    m = read_manifest(engine)
    assert m.spec == toy[1] and m.onnx_sha256 and m.precision == "fp16"
    assert (tmp_path / "timing.cache").read_bytes() == b"fake-timing-cache"
    with Recognizer(engine, max_batch=16) as rec:
        assert rec.backend_name == "tensorrt" and rec.max_batch == 8  # capped by the profile
        texts = [r.text for r in rec.recognize_batch([toy_crop(BANDS, toy[1])] * 11)]
    assert texts == ["ABCA"] * 11  # 11 crops chunked to the profile's max of 8


@pytest.mark.parametrize("version", ["8.5.2", "10.3.0", "11.4.0"])
def test_int8_from_cache_per_version(monkeypatch, tmp_path, toy, version):
    trt, cuda = doubles.install(monkeypatch, version)
    cache = toy_cache(*toy, tmp_path / "toy.cache")
    engine, manifest = build(tmp_path, toy[0], precision="int8", calib_cache=str(cache))
    build_call = [c for c in trt.calls if c[0] == "build"][0]
    if version.startswith("11"):
        assert build_call == ("build", [], True)  # Q/DQ ONNX, strongly typed, no flags
        assert manifest.extra["plan"] == "qdq"
        model = onnx.load_from_string(engine.read_bytes().split(b"\n", 1)[1])  # what the parser was given
        onnx.checker.check_model(model)  # valid ONNX, nodes in topological order
        # The layers left out of INT8 run in FP16 (ModelOpt's default), which needs FP16 scales: opset 19.
        inits = {i.name: i.data_type for i in model.graph.initializer}
        scales = [inits[n.input[1]] for n in model.graph.node if n.op_type == "DequantizeLinear"]
        assert scales and set(scales) == {onnx.TensorProto.FLOAT16}
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == 19
    else:
        assert build_call == ("build", ["FP16", "INT8", "OBEY_PRECISION_CONSTRAINTS"], False)
        # A --method max cache made for 10.3 is served re-headed for this version and Entropy2.
        served = f"TRT-{doubles.version_code(version)}-EntropyCalibration2"
        assert ("calibration_cache_used", served) in trt.calls and not any(c[0] == "calibrating" for c in trt.calls)
        assert manifest.extra["cache_header_file"] == "TRT-100300-MinMaxCalibration"
        assert manifest.extra["cache_header_served"] == served
        assert any(c[0] == "set_calibration_profile" for c in trt.calls)
    assert manifest.cache_sha256
    with Recognizer(engine) as rec:
        assert rec.recognize(toy_crop(BANDS, toy[1])).text == "ABCA"


def test_int8_calibrates_on_gpu_without_cache(monkeypatch, tmp_path, toy):
    trt, cuda = doubles.install(monkeypatch, "10.3.0")
    crops = [toy_crop(BANDS, toy[1])] * 10
    engine, _ = build(tmp_path, toy[0], precision="int8", calib_data=crops, batch=(1, 4, 8),
                      cache_out=str(tmp_path / "made.cache"))
    assert (tmp_path / "made.cache").read_bytes().startswith(b"TRT-100300-EntropyCalibration2")
    # 10 crops at OPT 4: three full batches (the last one filled with crops from the start).
    assert [e[1] for e in cuda.log if e[0] == "htod"] == [4 * 3 * 16 * 32 * 4] * 3
    assert ("calibrated", 3) in trt.calls


def test_builder_errors(monkeypatch, tmp_path, toy):
    with pytest.raises(InputError, match="INT8 needs scales"):
        build(tmp_path, toy[0], precision="int8")
    with pytest.raises(InputError, match="MIN <= OPT <= MAX"):
        build(tmp_path, toy[0], batch=(4, 2, 8))
    monkeypatch.setitem(__import__("sys").modules, "tensorrt", None)
    with pytest.raises(BackendUnavailable, match="python3-libnvinfer"):
        build(tmp_path, toy[0])
    doubles.install(monkeypatch, "10.3.0")
    with pytest.raises(InputError, match="0 DLA core"):
        build(tmp_path, toy[0], dla_core=0, batch=(8, 8, 8))
    other = tmp_path / "other.cache"
    other.write_text("TRT-100300-EntropyCalibration2\nsome_other_tensor: 3c010204\n")
    with pytest.raises(ModelFileError, match="made for another model"):
        build(tmp_path, toy[0], precision="int8", calib_cache=str(other))


def test_dla_with_gpu_fallback(monkeypatch, tmp_path, toy):
    trt, _ = doubles.install(monkeypatch, "10.3.0", dla_cores=2)
    engine, manifest = build(tmp_path, toy[0], precision="fp16", dla_core=1, gpu_fallback=True, batch=(4, 4, 4))
    assert ("config.default_device_type", "DLA") in trt.calls and ("config.DLA_core", 1) in trt.calls
    assert ("set_flag", "GPU_FALLBACK") in trt.calls and manifest.dla_core == 1


def test_trt11_int8_of_the_bundled_model_gets_fusible_residual_blocks(monkeypatch, tmp_path):
    from lpr_edge.bundled import bundled_path

    from ..conftest import REPO

    trt, _ = doubles.install(monkeypatch, "11.4.0")
    engine, manifest = build(tmp_path, bundled_path(), precision="int8",
                             calib_cache=str(REPO / "calibration" / "lprnet_us.cache"))
    model = onnx.load_from_string(engine.read_bytes().split(b"\n", 1)[1])  # what the parser was given
    produced_by = {o: n.op_type for n in model.graph.node for o in n.output}
    adds = [n for n in model.graph.node if n.op_type == "Add"]
    # Each quantized residual Add: the convolution branch straight from its Conv, the residual through Q/DQ.
    # The shipped cache keeps the first residual block float (calibration/README.md): no Q/DQ there at all.
    assert len(adds) == 5
    kept = [n for n in adds if n.name == "/net/stage1/Add"]
    assert len(kept) == 1 and "DequantizeLinear" not in [produced_by[t] for t in kept[0].input]
    assert all(sorted(produced_by[t] for t in n.input) == ["Conv", "DequantizeLinear"] for n in adds if n not in kept)


@pytest.mark.parametrize("blob", [b"unreadable timing cache", b"other-device timing cache"])
def test_a_timing_cache_tensorrt_cannot_use_is_replaced_by_a_fresh_one(monkeypatch, tmp_path, toy, blob):
    """create_timing_cache may return None and set_timing_cache returns False for another device's cache:
    both used to pass unnoticed (a None cache was set; a refused one was thought in use)."""
    trt, cuda = doubles.install(monkeypatch, "10.3.0")
    (tmp_path / "timing.cache").write_bytes(blob)
    said = []
    opts = BuildOptions(out_dir=str(tmp_path / "engines"), timing_cache=str(tmp_path / "timing.cache"),
                        precision="fp16", batch=(1, 4, 8))
    engine, _ = build_engine(toy[0], opts, say=said.append)
    assert engine.is_file() and (tmp_path / "timing.cache").read_bytes() == b"fake-timing-cache"
    assert any("is not usable here" in line and "starting a fresh one" in line for line in said)
    assert [c[1] for c in trt.calls if c[0] == "create_timing_cache"] == [blob, b""]


def test_the_engine_is_written_even_when_the_timing_cache_cannot_be_read_back(monkeypatch, tmp_path, toy):
    """get_timing_cache() may be None (Polygraphy guards it) and .serialize() then raised after the build,
    before the engine was written: minutes of building lost."""
    trt, cuda = doubles.install(monkeypatch, "10.3.0")
    monkeypatch.setattr(trt.IBuilderConfig, "get_timing_cache", lambda self: None)
    said = []
    opts = BuildOptions(out_dir=str(tmp_path / "engines"), timing_cache=str(tmp_path / "timing.cache"),
                        precision="fp16", batch=(1, 4, 8))
    engine, _ = build_engine(toy[0], opts, say=said.append)
    assert engine.is_file() and not (tmp_path / "timing.cache").exists()
    monkeypatch.setattr(trt.IBuilderConfig, "get_timing_cache",
                        lambda self: __import__("types").SimpleNamespace(serialize=lambda: 1 / 0))
    engine.unlink()
    engine, _ = build_engine(toy[0], opts, say=said.append)
    assert engine.is_file() and any("could not be read back (ZeroDivisionError)" in line for line in said)


@pytest.mark.parametrize("version", ["10.3.0", "11.4.0"])
def test_a_cache_that_scales_little_of_the_model_is_refused_with_the_share(monkeypatch, tmp_path, toy, version):
    """check_names wanted one tensor in common: a cache of another export (renamed tensors) left most
    layers in FP16 without a word."""
    from lpr_edge.errors import ModelFileError
    from lpr_edge.formats.trt_cache import CalibrationCache, read_cache

    doubles.install(monkeypatch, version)
    full = read_cache(toy_cache(*toy, tmp_path / "toy.cache"))
    # the tensors a renamed export still shares: not the inputs of the layers to quantize (image, pooled)
    kept = {name: scale for name, scale in full.scales.items() if name not in ("image", "pooled")}
    write_cache(tmp_path / "thin.cache", CalibrationCache(kept, full.version_code, full.algorithm))
    with pytest.raises(ModelFileError, match=r"scales only 0 of the 2 inputs .*under 50%.*lpr-edge calibrate"):
        build(tmp_path, toy[0], precision="int8", calib_cache=str(tmp_path / "thin.cache"))
    said = []
    opts = BuildOptions(out_dir=str(tmp_path / "engines"), precision="int8", calib_cache=str(tmp_path / "toy.cache"))
    build_engine(toy[0], opts, say=said.append)
    assert any("scales" in line and "inputs of quantizable layers" in line for line in said)


@pytest.mark.parametrize("version", ["8.5.2", "10.3.0"])
def test_the_served_cache_gives_the_head_no_int8_scale(monkeypatch, tmp_path, toy, version):
    """calibration/lprnet_us.cache carries scales for the Softmax and Max outputs: served to TensorRT, the
    probabilities could come back in steps of 1/127. The head's tensors are taken out of what is served."""
    from lpr_edge.formats.trt_cache import read_cache

    trt, _ = doubles.install(monkeypatch, version)
    cache = toy_cache(*toy, tmp_path / "toy.cache")
    assert {"probs", "scores"} <= set(read_cache(cache).scales)  # the file has them
    build(tmp_path, toy[0], precision="int8", calib_cache=str(cache))
    (served,) = [c[1] for c in trt.calls if c[0] == "cache_tensors"]
    assert "pooled" in served and not {"probs", "scores", "indices"} & set(served)


@pytest.mark.parametrize("version, precision", [("8.5.2", "fp16"), ("10.3.0", "int8")])
def test_the_head_is_pinned_to_fp32_on_the_flag_versions(monkeypatch, tmp_path, toy, version, precision):
    """With FP16/INT8 enabled TensorRT 8.5/10.x may pick a lower precision for Softmax and Max: the head's
    layers now carry an FP32 precision constraint, obeyed."""
    trt, _ = doubles.install(monkeypatch, version)
    cache = toy_cache(*toy, tmp_path / "toy.cache")
    build(tmp_path, toy[0], precision=precision, **({"calib_cache": str(cache)} if precision == "int8" else {}))
    (pinned,) = [c[1] for c in trt.calls if c[0] == "pinned"]
    assert {kind for name, kind in pinned} == {"FLOAT"} and len(pinned) == 3  # Softmax, ReduceMax, ArgMax
    assert "OBEY_PRECISION_CONSTRAINTS" in [c for c in trt.calls if c[0] == "build"][0][1]


def test_a_track_is_read_through_an_engine(monkeypatch, tmp_path, toy):
    """recognize_track on TensorRT: a TAO-style engine gives no per-step probabilities, so the views are
    fused by the confidence-weighted vote; one blank view does not change the reading."""
    doubles.install(monkeypatch, "10.3.0")
    engine, _ = build(tmp_path, toy[0], precision="fp16", batch=(1, 4, 8))
    with Recognizer(engine, cross_check=False) as rec:
        crops = [toy_crop(BANDS, toy[1])] * 3 + [toy_crop([""] * 8, toy[1])]
        readings, probs = rec.read_views(crops)
        fused = rec.recognize_track(crops)
    assert probs is None and [r.text for r in readings] == ["ABCA"] * 3 + [""]
    assert fused.text == "ABCA"
    assert fused.confidence == pytest.approx(sum(r.confidence for r in readings[:3]) / 4)
