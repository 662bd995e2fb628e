"""``lpr-edge export triton`` and ``export deepstream``: files a stock Triton / DeepStream reads."""
from __future__ import annotations

import configparser
import json

import onnx
import pytest

from lpr_edge.bundled import bundled_path
from lpr_edge.cli import main
from lpr_edge.formats.engine_manifest import Manifest, write_manifest
from lpr_edge.formats.onnx_spec import read_model_spec
from lpr_edge.formats.triton_wire import MODEL_KEY
from tests.conftest import build_toy_model, toy_spec


def parse_config(path):
    pytest.importorskip("tritonclient.grpc", reason="needs tritonclient to parse config.pbtxt")
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())


def fake_engine(tmp_path, profile=(1, 8, 16), precision="fp16", extra=None):
    """An engine file (bytes TensorRT would write) with the manifest lpr-edge build writes beside it."""
    engine = tmp_path / "us.engine"
    engine.write_bytes(b"plan bytes")
    write_manifest(engine, Manifest(spec=read_model_spec(bundled_path("us")), precision=precision,
                                    trt_version="10.3.0", gpu_name="Orin", compute_capability="8.7",
                                    profile=profile, onnx=str(bundled_path("us")), extra=extra or {}))
    return engine


def test_triton_repository_for_the_onnx_runtime_backend(tmp_path):
    assert main(["export", "triton", "--model", "br", "--out", str(tmp_path / "repo"), "--name", "plates",
                 "--max-batch", "16", "--instances", "2"]) == 0
    folder = tmp_path / "repo" / "plates"
    cfg = parse_config(folder / "config.pbtxt")
    spec = read_model_spec(bundled_path("br"))
    assert (cfg.name, cfg.platform, cfg.max_batch_size) == ("plates", "onnxruntime_onnx", 16)
    assert [(i.name, list(i.dims)) for i in cfg.input] == [(spec.input_name, [3, 48, 96])]
    from tritonclient.grpc import model_config_pb2 as pb

    assert [(o.name, o.data_type, list(o.dims)) for o in cfg.output] == [
        ("tf_op_layer_ArgMax", pb.TYPE_INT32, [24]), ("tf_op_layer_Max", pb.TYPE_FP32, [24])]
    assert cfg.dynamic_batching.max_queue_delay_microseconds == 100 and cfg.instance_group[0].count == 2
    info = json.loads(cfg.parameters[MODEL_KEY].string_value)  # what the Triton client Recognizer reads
    assert info["spec"] == spec.to_dict() and info["backend"] == "onnxruntime"
    assert (folder / "1" / "model.onnx").read_bytes() == bundled_path("br").read_bytes()
    assert (folder / "labels.txt").read_text().split() == list(spec.charset)
    assert not [p for p in (tmp_path / "repo").iterdir() if p.name.startswith(".")]  # no temp folders left


def test_triton_repository_for_a_tensorrt_plan_caps_the_batch_at_the_profile(tmp_path):
    engine = fake_engine(tmp_path)
    assert main(["export", "triton", "--engine", str(engine), "--out", str(tmp_path / "repo")]) == 0
    cfg = parse_config(tmp_path / "repo" / "lpr" / "config.pbtxt")
    assert (cfg.platform, cfg.max_batch_size) == ("tensorrt_plan", 16)
    assert json.loads(cfg.parameters[MODEL_KEY].string_value)["precision"] == "fp16"
    assert (tmp_path / "repo" / "lpr" / "1" / "model.plan").read_bytes() == b"plan bytes"
    assert [o.name for o in cfg.output] == ["tf_op_layer_ArgMax", "tf_op_layer_Max"]  # an engine of before 2026-12-07


def test_triton_repository_serves_the_probabilities_an_engine_has(tmp_path):
    engine = fake_engine(tmp_path, extra={"plan": "flags", "probabilities": "/Softmax_output_0"})
    assert main(["export", "triton", "--engine", str(engine), "--out", str(tmp_path / "repo")]) == 0
    cfg = parse_config(tmp_path / "repo" / "lpr" / "config.pbtxt")
    from tritonclient.grpc import model_config_pb2 as pb

    outputs = [(o.name, o.data_type, list(o.dims)) for o in cfg.output]
    assert outputs[2:] == [("/Softmax_output_0", pb.TYPE_FP32, [24, 36])]
    # the client Recognizer asks for it by this name, for the CTC posterior
    assert json.loads(cfg.parameters[MODEL_KEY].string_value)["probabilities"] == "/Softmax_output_0"


def test_exports_refuse_to_overwrite_without_force_and_keep_the_old_on_failure(tmp_path, capsys):
    out = tmp_path / "repo"
    assert main(["export", "triton", "--out", str(out)]) == 0
    assert main(["export", "triton", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    before = (out / "lpr" / "config.pbtxt").read_text()
    assert main(["export", "triton", "--out", str(out), "--model", str(tmp_path / "missing.onnx"), "--force"]) == 2
    assert (out / "lpr" / "config.pbtxt").read_text() == before
    assert main(["export", "triton", "--out", str(out), "--force", "--max-batch", "8"]) == 0
    assert "max_batch_size: 8" in (out / "lpr" / "config.pbtxt").read_text()


def test_deepstream_config_follows_nvidias_lpr_sgie(tmp_path):
    assert main(["export", "deepstream", "--out", str(tmp_path / "ds")]) == 0
    cfg = configparser.ConfigParser()
    cfg.read(tmp_path / "ds" / "lpr_config_sgie.txt")
    p = cfg["property"]
    spec = read_model_spec(bundled_path("us"))
    assert p["onnx-file"] == "lprnet_us.onnx" and (tmp_path / "ds" / "lprnet_us.onnx").is_file()
    assert (p["process-mode"], p["operate-on-gie-id"], p["network-type"], p["network-mode"]) == ("2", "2", "1", "2")
    assert float(p["net-scale-factor"]) == pytest.approx(1 / 255) and p["model-color-format"] == "0"
    assert p["output-blob-names"] == "tf_op_layer_ArgMax;tf_op_layer_Max" and p["batch-size"] == "16"
    assert p["parse-classifier-func-name"] == "NvDsInferParseCustomNVPlate"
    # The parser's class order: one symbol per line; index == line count is the blank.
    lines = (tmp_path / "ds" / "dict.txt").read_text().splitlines()
    assert lines == list(spec.charset) and len(lines) == spec.blank


def test_deepstream_with_an_int8_engine(tmp_path):
    engine = fake_engine(tmp_path, profile=(1, 4, 8), precision="int8")
    assert main(["export", "deepstream", "--engine", str(engine), "--out", str(tmp_path / "ds")]) == 0
    text = (tmp_path / "ds" / "lpr_config_sgie.txt").read_text()
    assert "model-engine-file=us.engine" in text and "network-mode=1" in text and "batch-size=8" in text
    assert main(["export", "deepstream", "--engine", str(engine), "--out", str(tmp_path / "ds2"),
                 "--batch-size", "32"]) == 2


@pytest.mark.parametrize("kind, problem", [("logits", "logits"), ("per-channel", "net-scale-factor")])
def test_deepstream_refuses_models_its_parser_cannot_read(tmp_path, capsys, kind, problem):
    spec = toy_spec("logits") if kind == "logits" else toy_spec("argmax_max").replace(scale=(0.1, 0.2, 0.3))
    path = tmp_path / "toy.onnx"
    onnx.save(build_toy_model(spec), path)
    assert main(["export", "deepstream", "--model", str(path), "--out", str(tmp_path / "ds")]) == 2
    assert problem in capsys.readouterr().err and not (tmp_path / "ds").exists()


def test_export_checkpoint_without_the_word_onnx_still_parses():
    from lpr_edge.cli import build_parser
    from lpr_edge.cli.export import with_default_target

    args = build_parser().parse_args(with_default_target(["export", "last.pt", "-o", "x.onnx"]))
    assert (args.target, args.checkpoint, args.out) == ("onnx", ["last.pt"], "x.onnx")
    args = build_parser().parse_args(with_default_target(["export", "a.pt", "b.pt", "-o", "x.onnx"]))
    assert (args.target, args.checkpoint) == ("onnx", ["a.pt", "b.pt"])  # several: their weight average


def test_a_plans_triton_config_has_the_engines_output_types_not_the_onnxs(tmp_path, monkeypatch):
    """TensorRT 8.5's parser makes an INT64 output INT32 (it has no INT64); the config used to say TYPE_INT64
    from the ONNX, and Triton refused the plan."""
    import onnx

    from lpr_edge.toolchain.engine_builder import BuildOptions, build_engine

    pb = pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="needs tritonclient (the client extra)")

    from ..doubles import install

    model = onnx.load(bundled_path("us"))  # a TAO export whose ArgMax output is INT64
    (cast,) = [n for n in model.graph.node if n.op_type == "Cast" and "tf_op_layer_ArgMax" in n.output]
    cast.attribute[0].i = onnx.TensorProto.INT64
    next(o for o in model.graph.output if o.name == "tf_op_layer_ArgMax").type.tensor_type.elem_type = \
        onnx.TensorProto.INT64
    onnx_path = tmp_path / "tao64.onnx"
    onnx.save(model, onnx_path)

    def argmax_type(engine, repo):
        assert main(["export", "triton", "--engine", str(engine), "--model", str(onnx_path), "--out",
                     str(tmp_path / repo)]) == 0
        cfg = parse_config(tmp_path / repo / "lpr" / "config.pbtxt")
        return {o.name: o.data_type for o in cfg.output}["tf_op_layer_ArgMax"]

    for version, expected in (("8.5.2", pb.TYPE_INT32), ("10.3.0", pb.TYPE_INT64)):
        install(monkeypatch, version)
        opts = BuildOptions(out_dir=str(tmp_path / version), precision="fp16", batch=(1, 8, 16), simplify=False)
        engine, manifest = build_engine(onnx_path, opts, say=lambda m: None)
        assert manifest.extra["outputs"]["tf_op_layer_ArgMax"] == ("INT32" if version == "8.5.2" else "INT64")
        assert argmax_type(engine, f"repo{version}") == expected
    # an engine built before the types were recorded: TensorRT 8.5's rule
    old = tmp_path / "old"
    old.mkdir()
    engine = fake_engine(old)
    manifest = json.loads((old / "us.engine.json").read_text())
    (old / "us.engine.json").write_text(json.dumps({**manifest, "trt_version": "8.5.2"}))
    assert argmax_type(engine, "repo_old") == pb.TYPE_INT32
