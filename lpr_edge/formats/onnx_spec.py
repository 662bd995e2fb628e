"""Reading, embedding and checking the model spec of an ONNX file."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import onnx

from ..errors import ModelFileError, SpecError
from ..spec import METADATA_KEY, ModelSpec, preset


def load_onnx(path: str | os.PathLike) -> onnx.ModelProto:
    """Load an ONNX file, turning missing/empty/damaged files into one clear error."""
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"model file {p} does not exist; pass the path of an .onnx model")
    if p.stat().st_size == 0:
        raise ModelFileError(f"model file {p} is empty; re-export or re-download it")
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # protobuf raises DecodeError/RuntimeError/others for damaged files
        raise ModelFileError(f"model file {p} is not a readable ONNX model ({type(exc).__name__}); "
                             "it may be truncated or not ONNX at all: re-export it") from None
    if not model.graph.node or not model.graph.input:
        raise ModelFileError(f"model file {p} holds no graph; it is not an ONNX model (or it is truncated)")
    return model


def spec_from_model(model: onnx.ModelProto) -> ModelSpec | None:
    """The spec stored in ``metadata_props``, or None if the model carries none."""
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return ModelSpec.from_json(prop.value)
    return None


def embed_spec(model: onnx.ModelProto, spec: ModelSpec) -> onnx.ModelProto:
    """Store ``spec`` in the model's ``metadata_props`` (replacing an older one)."""
    keep = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    model.metadata_props.add(key=METADATA_KEY, value=spec.to_json())
    return model


def resolve_spec(model: onnx.ModelProto, *, spec: ModelSpec | None = None, preset_name: str | None = None,
                 overrides: Mapping[str, Any] | None = None, source: str = "model") -> ModelSpec:
    """Pick the spec to use: explicit, else preset, else embedded; then overrides; then validate."""
    if spec is None and preset_name:
        spec = preset(preset_name)
    if spec is None:
        spec = spec_from_model(model)
    if spec is None:
        raise SpecError(f"{source} carries no lpr-edge spec; pass a preset (--preset tao-us, tao-cn or "
                        "lprnet-pytorch) or a spec JSON (--spec FILE)")
    if overrides:
        spec = ModelSpec.from_dict({**spec.to_dict(), **overrides})
    validate_spec(model, spec, source)
    return spec


def _dims(value_info: onnx.ValueInfoProto) -> list[int | str]:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in shape.dim]


def probability_tensor(model: onnx.ModelProto, spec: ModelSpec) -> str | None:
    """The per-step class probabilities [N, T, C] behind a TAO-style model's Max head, or None.

    TAO's LPRNet export (and ours) ends in Softmax over the classes, then ReduceMax (the scores output)
    and ArgMax. The Softmax output holds what the plate's CTC posterior needs; it is not a graph
    output (DeepStream's parser takes the first float output as the scores, so the files keep two),
    and a backend that wants it asks for it by this name.
    """
    if spec.output_kind != "argmax_max":
        return None
    producer = {out: node for node in model.graph.node for out in node.output}
    constants = {init.name: init for init in model.graph.initializer}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    head = producer.get(spec.outputs[1])
    # ReduceMax without axes reduces every axis; Softmax's default axis is the last from opset 13 on
    if head is None or head.op_type != "ReduceMax" or not _last_axis(head, "axes", None, constants):
        return None
    softmax = producer.get(head.input[0])
    if softmax is None or softmax.op_type != "Softmax" or \
            not _last_axis(softmax, "axis", -1 if opset >= 13 else 1, constants):
        return None
    return head.input[0]


def _last_axis(node: onnx.NodeProto, key: str, default, constants: Mapping[str, onnx.TensorProto],
               rank: int = 3) -> bool:
    """Whether ``node``'s axis (attribute, or from opset 18 on for reductions a constant input) is only
    the last of ``rank`` axes."""
    values = [onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == key]
    if values:
        value = values[0]
    elif len(node.input) > 1:
        given = constants.get(node.input[1])
        value = onnx.numpy_helper.to_array(given).tolist() if given is not None else None
    else:
        value = default
    return value in (-1, rank - 1, [-1], [rank - 1])


def expose_probabilities(model: onnx.ModelProto, spec: ModelSpec) -> str | None:
    """Add :func:`probability_tensor` to ``model``'s graph outputs (in place); its name, or None."""
    name = probability_tensor(model, spec)
    outputs = {o.name: o for o in model.graph.output}
    if name is not None and name not in outputs:
        # a full shape (onnxsim wants one): the scores output's batch dimension, then [T, C]
        batch = outputs[spec.outputs[1]].type.tensor_type.shape.dim[:1] if spec.outputs[1] in outputs else []
        first = (batch[0].dim_param or batch[0].dim_value or "N") if batch else "N"
        model.graph.output.append(onnx.helper.make_tensor_value_info(
            name, onnx.TensorProto.FLOAT, [first, spec.time_steps, spec.num_classes]))
    return name


def validate_spec(model: onnx.ModelProto, spec: ModelSpec, source: str = "model") -> None:
    """Check the spec against the graph: names, input shape, output shapes, class count."""
    inits = {i.name for i in model.graph.initializer}
    inputs = {i.name: i for i in model.graph.input if i.name not in inits}
    outputs = {o.name: o for o in model.graph.output}
    problems = []
    if spec.input_name not in inputs:
        problems.append(f"input {spec.input_name!r} not in graph inputs {sorted(inputs)}")
    else:
        dims = _dims(inputs[spec.input_name])
        want = list(spec.input_shape)
        got = dims[1:]
        if len(dims) != 4 or any(isinstance(g, int) and g != w for g, w in zip(got, want)):
            want_text = ", ".join(map(str, want))
            problems.append(f"input {spec.input_name!r} has shape {dims}, spec expects [N, {want_text}]")
    for name in spec.outputs:
        if name not in outputs:
            problems.append(f"output {name!r} not in graph outputs {sorted(outputs)}")
    if not problems and spec.output_kind == "logits":
        dims = _dims(outputs[spec.outputs[0]])
        if len(dims) == 4 and dims[2] == 1:
            dims = dims[:2] + dims[3:]
        if len(dims) == 3:
            c_axis, t_axis = (2, 1) if spec.logits_layout == "NTC" else (1, 2)
            c, t = dims[c_axis], dims[t_axis]
            if isinstance(c, int) and c != spec.num_classes:
                problems.append(f"logits have {c} classes but the charset has {len(spec.charset)} symbols + blank "
                                f"= {spec.num_classes} (or the layout is not {spec.logits_layout})")
            if isinstance(t, int) and t != spec.time_steps:
                problems.append(f"logits have {t} time steps, spec says {spec.time_steps}")
        elif dims:
            problems.append(f"logits output has shape {dims}; expected [N, T, C] or [N, C, T]")
    if not problems and spec.output_kind == "argmax_max":
        for name in spec.outputs:
            dims = _dims(outputs[name])
            if dims and (len(dims) != 2 or (isinstance(dims[1], int) and dims[1] != spec.time_steps)):
                problems.append(f"output {name!r} has shape {dims}, spec expects [N, {spec.time_steps}]")
    if problems:
        raise SpecError(f"spec {spec.name!r} does not fit {source}: " + "; ".join(problems))


def load_spec_file(path: str | os.PathLike) -> ModelSpec:
    """Read a spec JSON file (``--spec``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read spec file {p}: {exc}") from None
    try:
        return ModelSpec.from_dict(json.loads(text))
    except json.JSONDecodeError as exc:
        raise SpecError(f"spec file {p} is not valid JSON ({exc.msg}, line {exc.lineno})") from None


def read_model_spec(path: str | os.PathLike, *, spec: ModelSpec | None = None, preset_name: str | None = None,
                    overrides: Mapping[str, Any] | None = None) -> ModelSpec:
    """Load ``path`` and return its validated spec (see :func:`resolve_spec`)."""
    return resolve_spec(load_onnx(path), spec=spec, preset_name=preset_name, overrides=overrides, source=str(path))


def onnx_precision(model: onnx.ModelProto) -> str:
    """``int8`` for a Q/DQ model, ``fp16`` for one with FP16 weights, else ``fp32``."""
    ops = {n.op_type for n in model.graph.node}
    if "QuantizeLinear" in ops or "DequantizeLinear" in ops:
        return "int8"
    if any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer):
        return "fp16"
    return "fp32"
