"""``lpr-edge export triton``: a model repository for NVIDIA's Triton container.

Layout (Triton's standard): ``REPO/NAME/config.pbtxt``, ``REPO/NAME/1/model.onnx`` (ONNX Runtime
backend) or ``model.plan`` (TensorRT backend), plus ``spec.json`` and ``labels.txt`` beside the
config for people. The config carries dynamic batching and the ``lpr_edge_model`` parameter, so
``Recognizer("grpc://HOST:8001/NAME")`` reads from it with no model file. Clients send the model's
own float32 input (the ``float32`` wire form of :mod:`lpr_edge.formats.triton_wire`).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import onnx

from ..atomic import atomic_dir
from ..errors import InputError
from ..formats.triton_wire import MODEL_KEY, model_info
from .source import ExportSource, export_source, onnx_type_name

# Triton's names for the ONNX types an LPR model's outputs may have.
TRITON_TYPES = {"FLOAT": "TYPE_FP32", "FLOAT16": "TYPE_FP16", "INT32": "TYPE_INT32", "INT64": "TYPE_INT64",
                "UINT8": "TYPE_UINT8", "INT8": "TYPE_INT8"}


def _tensor(name: str, elem: int, dims) -> str:
    kind = onnx_type_name(elem)
    if kind not in TRITON_TYPES:
        raise InputError(f"output {name} has type {kind}, which this export does not map to a Triton type")
    return f'  {{ name: "{name}" data_type: {TRITON_TYPES[kind]} dims: [ {", ".join(str(d) for d in dims)} ] }}'


def config_pbtxt(src: ExportSource, name: str, max_batch: int, max_queue_delay_us: int, instances: int) -> str:
    """The model's ``config.pbtxt`` text."""
    spec = src.spec
    platform = "tensorrt_plan" if src.engine_path else "onnxruntime_onnx"
    out_dims = {"argmax_max": [spec.time_steps]}.get(spec.output_kind)
    outputs = []
    for out in spec.outputs:
        dims = out_dims or [-1, -1]  # logits: [T, C] or [C, T] as the spec's layout says
        outputs.append(_tensor(out, src.output_types[out], dims))
    if src.probabilities:  # after the spec's outputs, as in the engine
        outputs.append(_tensor(src.probabilities, onnx.TensorProto.FLOAT, [spec.time_steps, spec.num_classes]))
    info = model_info(spec, src.precision, "tensorrt" if src.engine_path else "onnxruntime", src.probabilities)
    return "\n".join([
        f'name: "{name}"',
        f'platform: "{platform}"',
        f"max_batch_size: {max_batch}",
        "input [",
        f'  {{ name: "{spec.input_name}" data_type: TYPE_FP32 dims: [ {", ".join(map(str, spec.input_shape))} ] }}',
        "]",
        "output [",
        ",\n".join(outputs),
        "]",
        f"dynamic_batching {{ max_queue_delay_microseconds: {max_queue_delay_us} }}",
        f"instance_group [ {{ count: {instances} }} ]",
        f'parameters {{ key: "{MODEL_KEY}" value {{ string_value: {json.dumps(info, ensure_ascii=False)} }} }}',
        "",
    ])


def export_triton(out: str | os.PathLike, model: str | None = None, engine: str | None = None, *, name: str = "lpr",
                  max_batch: int = 64, max_queue_delay_us: int = 100, instances: int = 1,
                  force: bool = False) -> Path:
    """Write ``out/name`` (a Triton model repository entry); returns its folder."""
    if max_batch < 1 or instances < 1 or max_queue_delay_us < 0:
        raise InputError("--max-batch and --instances must be at least 1, --max-queue-delay-us at least 0")
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise InputError(f"bad model name {name!r}: use letters, digits, '.', '_' or '-'")
    src = export_source(model, engine)
    if src.manifest is not None:
        if src.manifest.profile[2] < max_batch:
            max_batch = src.manifest.profile[2]  # Triton refuses a plan whose profile is smaller
    with atomic_dir(Path(out) / name, replace=force) as folder:
        (folder / "1").mkdir()
        if src.engine_path:
            shutil.copyfile(src.engine_path, folder / "1" / "model.plan")
        else:
            shutil.copyfile(src.onnx_path, folder / "1" / "model.onnx")
        (folder / "config.pbtxt").write_text(config_pbtxt(src, name, max_batch, max_queue_delay_us, instances),
                                             encoding="utf-8")
        (folder / "spec.json").write_text(src.spec.to_json() + "\n", encoding="utf-8")
        (folder / "labels.txt").write_text("\n".join(src.spec.charset) + "\n", encoding="utf-8")
    return Path(out) / name
