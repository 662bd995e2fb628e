"""ONNX preparation before an engine build: simplify, dynamic batch, I/O checks, FP16 conversion."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Iterator

import onnx

from ..errors import ModelFileError
from ..formats.onnx_spec import embed_spec, expose_probabilities, validate_spec
from ..spec import ModelSpec

# Kept in FP32 by the FP16 conversion: the TAO heads, so confidences and indices stay exact.
FP16_BLOCKED_OPS = ["Softmax", "ArgMax", "ReduceMax", "Cast"]
QDQ_FP16_OPSET = 19  # QuantizeLinear/DequantizeLinear take float16 scales from opset 19


def make_batch_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give every graph input and output a symbolic batch dimension."""
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = "batch"
    return model


def prepare(model: onnx.ModelProto, spec: ModelSpec, simplify: bool = True) -> onnx.ModelProto:
    """onnxsim-simplified, batch-dynamic model whose I/O matches ``spec`` (spec embedded); a TAO-style
    model also outputs its per-step class probabilities (``onnx_spec.probability_tensor``), so the
    engine gives the plate's CTC posterior."""
    model = make_batch_dynamic(model)
    expose_probabilities(model, spec)
    if simplify and importlib.util.find_spec("onnxsim") is None:
        warnings.warn("onnxsim is not installed, so the model is not simplified (TensorRT folds most of what it "
                      "would); pip install 'lpr-edge[toolchain]' to simplify", stacklevel=2)
        simplify = False
    if simplify:
        import onnxsim

        try:
            model, ok = onnxsim.simplify(model)
        except Exception as exc:
            raise ModelFileError(f"onnxsim failed on this model: {str(exc).splitlines()[0][:200]}") from None
        if not ok:
            raise ModelFileError("onnxsim could not check the simplified model; pass --no-simplify")
    validate_spec(model, spec, "the prepared model")
    return embed_spec(model, spec)


def to_fp16(model: onnx.ModelProto, spec: ModelSpec) -> onnx.ModelProto:
    """FP16 weights and activations with FP32 inputs/outputs (for strongly typed TensorRT 11 builds).

    Uses ONNX Runtime's converter; the output heads stay FP32. A Q/DQ model keeps its int8 parts and
    gets FP16 scales, so the layers left out of INT8 run in FP16 — what ModelOpt does with its
    default ``high_precision_dtype=fp16``; FP16 Q/DQ scales need opset 19, so such a model is
    converted to opset 19 first. The result is topologically sorted (the converter appends the
    input casts at the end, which ONNX forbids).
    """
    from onnxruntime.quantization.onnx_model import ONNXModel
    from onnxruntime.transformers.float16 import convert_float_to_float16

    name_unnamed_nodes(model)
    has_qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)
    if has_qdq:
        clamp_qdq_scales(model)
    if has_qdq and opset_version(model) < QDQ_FP16_OPSET:
        from onnx import version_converter

        model = version_converter.convert_version(model, QDQ_FP16_OPSET)
    fp16 = ONNXModel(convert_float_to_float16(model, keep_io_types=True, op_block_list=FP16_BLOCKED_OPS))
    drop_fp16_round_trips(fp16.model)
    fp16.topological_sort()
    return embed_spec(fp16.model, spec)


def drop_fp16_round_trips(model: onnx.ModelProto) -> int:
    """Remove the converter's ``Cast(FP16) -> Cast(FP32)`` pairs behind the FP32 head (Softmax, ReduceMax),
    in place: they round the probabilities, the confidences and what ArgMax sees through FP16 (probabilities
    under 6e-8 became 0) for nothing. Returns how many FP16 casts went."""
    producers = {out: n for n in model.graph.node for out in n.output}
    consumers: dict[str, list] = {}
    for n in model.graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    outputs = {o.name for o in model.graph.output}

    def cast_to(node, dtype: int) -> bool:
        return node.op_type == "Cast" and any(a.name == "to" and a.i == dtype for a in node.attribute)

    dropped, gone = 0, set()
    for first in list(model.graph.node):
        source = producers.get(first.input[0]) if first.input else None
        if not (cast_to(first, onnx.TensorProto.FLOAT16) and source is not None
                and source.op_type in FP16_BLOCKED_OPS and source.op_type != "Cast"):
            continue
        seconds = consumers.get(first.output[0], [])
        if not seconds or not all(cast_to(s, onnx.TensorProto.FLOAT) for s in seconds):
            continue
        # the FP32 value keeps the graph output's name where one of the pair fed an output
        keep = next((s.output[0] for s in seconds if s.output[0] in outputs), first.input[0])
        renamed = {first.input[0], *(s.output[0] for s in seconds)} - {keep}
        for node in model.graph.node:
            node.input[:] = [keep if name in renamed else name for name in node.input]
            node.output[:] = [keep if name == first.input[0] else name for name in node.output]
        for node in (first, *seconds):
            model.graph.node.remove(node)
        gone |= renamed | {first.output[0]}
        dropped += 1
    kept_info = [v for v in model.graph.value_info if v.name not in gone]
    del model.graph.value_info[:]
    model.graph.value_info.extend(kept_info)
    return dropped


# Smallest positive FP16 value (subnormal): a smaller scale would become 0 in FP16, and TensorRT's
# parser rejects Q/DQ scales that are not positive. Channels with such scales hold weights that
# round to 0 at either scale, so clamping changes no result.
FP16_MIN_SCALE = 2.0 ** -24


def clamp_qdq_scales(model: onnx.ModelProto, floor: float = FP16_MIN_SCALE) -> int:
    """Raise every Q/DQ scale initializer below ``floor`` to it, in place; returns how many changed."""
    import numpy as np
    from onnx import numpy_helper

    scale_names = {n.input[1] for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")}
    changed = 0
    for init in model.graph.initializer:
        if init.name in scale_names and init.data_type == onnx.TensorProto.FLOAT:
            values = numpy_helper.to_array(init)
            low = values < floor
            if low.any():
                changed += int(low.sum())
                raised = np.maximum(values, np.float32(floor)).astype(np.float32)
                init.CopyFrom(numpy_helper.from_array(raised, init.name))
    return changed


def name_unnamed_nodes(model) -> None:
    """Give every unnamed node the name ``<op>_<index>``, in place: the quantizer excludes nodes by
    name (unnamed ones would share one exclusion), and older float16 converters (onnxruntime 1.19,
    the last for Python 3.8) name their casts after the node, so unnamed nodes got duplicate casts."""
    taken = {n.name for n in model.graph.node}
    for i, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{i}"
            while name in taken:
                name += "_"
            node.name = name
            taken.add(name)


def opset_version(model: onnx.ModelProto) -> int:
    """The model's default-domain opset."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


@contextlib.contextmanager
def private_copy(model_path: str | os.PathLike) -> Iterator[Path]:
    """``model_path`` copied into a temporary folder that is removed however the block ends.

    ONNX Runtime's quantization tools write ``<model>-inferred.onnx`` beside the model they read: beside
    a model on a read-only mount that fails, and an interrupt can leave it inside the package."""
    with tempfile.TemporaryDirectory(prefix="lpr-edge-model.") as tmp:
        local = Path(tmp) / "model.onnx"
        shutil.copyfile(model_path, local)
        yield local
