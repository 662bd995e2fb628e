"""ONNX preparation before an engine build: simplify, dynamic batch, I/O checks, FP16 conversion."""
from __future__ import annotations

import onnx

from .errors import ModelFileError
from .onnx_spec import embed_spec, validate_spec
from .spec import ModelSpec

# Kept in FP32 by the FP16 conversion: the TAO heads, so confidences and indices stay exact.
FP16_BLOCKED_OPS = ["Softmax", "ArgMax", "ReduceMax", "Cast"]


def make_batch_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give every graph input and output a symbolic batch dimension."""
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = "batch"
    return model


def prepare(model: onnx.ModelProto, spec: ModelSpec, simplify: bool = True) -> onnx.ModelProto:
    """onnxsim-simplified, batch-dynamic model whose I/O matches ``spec`` (spec embedded)."""
    model = make_batch_dynamic(model)
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

    Uses ONNX Runtime's converter; the output heads stay FP32.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    fp16 = convert_float_to_float16(model, keep_io_types=True, op_block_list=FP16_BLOCKED_OPS)
    return embed_spec(fp16, spec)
