"""Q/DQ ONNX models made from a calibration cache: what TensorRT 11 builds (symmetric int8, Q/DQ on
op inputs, residual branches left to TensorRT's Conv+Add fusion, float biases) and what ONNX Runtime
runs fast on the CPU (uint8 ReLU outputs), both from the same ranges.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from ..atomic import write_bytes
from ..errors import InputError, ModelFileError
from ..formats.trt_cache import CalibrationCache, check_names
from ..spec import ModelSpec
from .calibrate import QUANTIZED_OPS, float_tensor_names
from .onnx_prep import name_unnamed_nodes, private_copy

QDQ_TARGETS = ("tensorrt", "cpu")
# Ops that keep a tensor non-negative when their data inputs are (ReLU outputs pooled, sliced, joined).
_SIGN_PRESERVING = {"MaxPool", "AveragePool", "GlobalAveragePool", "Slice", "Concat", "Reshape", "Flatten",
                    "Transpose", "Squeeze", "Unsqueeze", "Identity"}


def nonnegative_tensors(model, inputs: Iterable[str] = ()) -> set[str]:
    """Tensors that cannot be negative: ``inputs``, ReLU outputs, and what pooling, slicing and
    joining make of them."""
    nonneg: set[str] = set(inputs)
    for node in model.graph.node:  # ONNX keeps nodes in topological order
        data = [t for t in node.input if t] if node.op_type == "Concat" else list(node.input[:1])
        if node.op_type == "Relu" or (node.op_type in _SIGN_PRESERVING and data and all(t in nonneg for t in data)):
            nonneg.update(o for o in node.output if o)
    return nonneg


def quantized_nodes(model, cache: CalibrationCache) -> list[str]:
    """Names of the nodes the Q/DQ models quantize: ops of ``QUANTIZED_OPS`` whose activations
    (inputs and outputs) all have scales in ``cache`` — like ModelOpt with a cache."""
    inits = {i.name for i in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type in QUANTIZED_OPS
            and all(t in cache.scales for t in [*n.input, *n.output] if t and t not in inits)]


def residual_branch_inputs(model) -> set[str]:
    """The convolution-branch input of each residual ``Add``, which TensorRT fuses into that convolution.

    For an Add of two computed tensors where one comes straight from a Conv, the branch with the
    longer path back to their common ancestor is the convolution branch (ModelOpt's
    ``build_non_residual_input_map`` rule); the other input is the residual (identity or shortcut).
    TensorRT fuses Conv + Add (+ ReLU) with the Conv accumulating in int32 and the residual added
    in, as in implicit INT8 with a cache; a Q/DQ on the convolution branch would add a rounding step
    TensorRT never does and split the fusion (TensorRT developer guide, Q/DQ placement).
    """
    producer = {o: n for n in model.graph.node for o in n.output if o}

    def distances(tensor: str) -> dict[str, int]:
        # Fewest nodes between ``tensor`` and each computed tensor it depends on (itself: 0).
        dist, frontier = {tensor: 0}, [tensor]
        while frontier:
            nearer = []
            for f in frontier:
                for t in producer[f].input:
                    if t in producer and t not in dist:
                        dist[t] = dist[f] + 1
                        nearer.append(t)
            frontier = nearer
        return dist

    branches = set()
    for node in model.graph.node:
        if node.op_type != "Add" or len(node.input) != 2 or not all(t in producer for t in node.input):
            continue
        a, b = node.input
        conv_side = [t for t in (a, b) if producer[t].op_type == "Conv"]
        da, db = distances(a), distances(b)
        common = da.keys() & db.keys()
        if not conv_side or not common:
            continue
        ancestor = min(common, key=lambda t: da[t] + db[t])
        longer = a if da[ancestor] > db[ancestor] else b
        branch = longer if longer in conv_side else conv_side[0]
        if branch not in (db if branch == a else da):  # a Conv feeding both inputs is no residual block
            branches.add(branch)
    return branches


def _bypass_qdq(model, tensors: set[str]) -> None:
    """Feed ``Add`` nodes the float ``tensors`` directly instead of through their Q -> DQ pair, then
    drop the Q/DQ nodes and constants nothing reads any more."""
    producer = {o: n for n in model.graph.node for o in n.output if o}
    for node in model.graph.node:
        if node.op_type != "Add":
            continue
        for i, t in enumerate(node.input):
            dq = producer.get(t)
            q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            if q is not None and q.op_type == "QuantizeLinear" and q.input[0] in tensors:
                node.input[i] = q.input[0]
    while True:
        used = {t for n in model.graph.node for t in n.input} | {o.name for o in model.graph.output}
        dead = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
                and not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            model.graph.node.remove(n)
    for init in [i for i in model.graph.initializer if i.name not in used]:
        model.graph.initializer.remove(init)


def make_qdq_model(onnx_path: str | os.PathLike, cache: CalibrationCache, out_path: str | os.PathLike,
                   spec: ModelSpec | None = None, target: str = "tensorrt") -> Path:
    """Write a Q/DQ ONNX whose activation ranges are the cache's, per-channel symmetric int8 weights.

    Placement as TensorRT recommends and ModelOpt does: Q/DQ on the *inputs* of quantized ops only
    (TensorRT fuses Conv+ReLU and requantizes at the next input, as with a calibration cache);
    ONNX Runtime's default also quantizes every Conv output before its ReLU, which costs
    LPRNet_Pytorch 0.9 points more. Biases stay float: TensorRT's parser rejects the int32
    DequantizeLinear that ONNX Runtime would give them. Float weights keep a Q->DQ pair
    (``AddQDQPairToWeight``), the form both accept. The spec is embedded so the file works with
    ``lpr-edge eval``.

    ``target="tensorrt"``: symmetric int8 activations, scale = the cache's (TensorRT 11, and the
    accuracy check of what TensorRT computes); the convolution branch of a residual Add stays float
    (:func:`residual_branch_inputs`) so TensorRT can fuse Conv+Add+ReLU. ``target="cpu"``: the same
    ranges as uint8, the form ONNX Runtime's x86 int8 kernels run fast (symmetric int8 activations
    fall back to slow paths there): non-negative tensors (after ReLU) get [0, amax] with zero point
    0, the rest [-amax, amax].
    """
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization.calibrate import CalibrationMethod, TensorsData
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
    from onnxruntime.quantization.quant_utils import load_model_with_shape_infer

    from ..formats.onnx_spec import spec_from_model

    if target not in QDQ_TARGETS:
        raise InputError(f"unknown Q/DQ target {target!r}; choose one of {', '.join(QDQ_TARGETS)}")
    with private_copy(onnx_path) as local:
        model = load_model_with_shape_infer(local)
    check_names(cache, float_tensor_names(model), "calibration cache")
    name_unnamed_nodes(model)
    quantized = set(quantized_nodes(model, cache))
    unscaled = [n.name for n in model.graph.node if n.op_type in QUANTIZED_OPS and n.name not in quantized]
    spec = spec or spec_from_model(model)
    cpu = target == "cpu"
    nonneg = _nonnegative(model, spec) if cpu else set()
    ranges = TensorsData(CalibrationMethod.MinMax, {
        name: (np.float32(0.0 if name in nonneg else -s * 127.0), np.float32(s * 127.0))
        for name, s in cache.scales.items()})
    quantizer = QDQQuantizer(model, True, False, QuantType.QInt8, QuantType.QUInt8 if cpu else QuantType.QInt8,
                             ranges, [], unscaled, QUANTIZED_OPS,
                             {"ActivationSymmetric": not cpu, "WeightSymmetric": True, "AddQDQPairToWeight": True,
                              "DedicatedQDQPair": False, "OpTypesToExcludeOutputQuantization": QUANTIZED_OPS,
                              "QuantizeBias": False})
    branches = set() if cpu else residual_branch_inputs(model)  # before quantizing: that rewrites ``model``
    quantizer.quantize_model()
    _bypass_qdq(quantizer.model.model, branches)
    quantizer.model.topological_sort()
    return _write_checked(quantizer.model.model, spec, out_path)


def _nonnegative(model, spec: ModelSpec | None) -> set[str]:
    """Tensors that are never negative (after ReLU); pixels normalised as x * scale with no mean
    shift count too (TAO's x/255)."""
    pixels_nonneg = spec is not None and not any(spec.mean) and all(s > 0 for s in spec.scale)
    return nonnegative_tensors(model, [spec.input_name] if pixels_nonneg else [])


def _write_checked(qmodel, spec: ModelSpec | None, out_path: str | os.PathLike) -> Path:
    """Embed the spec, run onnx.checker and write atomically."""
    import onnx

    from ..formats.onnx_spec import embed_spec

    if spec is not None:
        embed_spec(qmodel, spec)
    try:
        onnx.checker.check_model(qmodel)
    except onnx.checker.ValidationError as exc:
        raise ModelFileError(f"the Q/DQ model failed onnx.checker: {str(exc).splitlines()[0]}") from None
    write_bytes(out_path, qmodel.SerializeToString())
    return Path(out_path)


def make_qdq_models(onnx_path: str | os.PathLike, cache: CalibrationCache, trt_path: str | os.PathLike,
                    cpu_path: str | os.PathLike, spec: ModelSpec) -> tuple[Path, Path]:
    """Both Q/DQ forms of the same ranges: for TensorRT (symmetric int8) and for ONNX Runtime on the CPU."""
    return (make_qdq_model(onnx_path, cache, trt_path, spec, target="tensorrt"),
            make_qdq_model(onnx_path, cache, cpu_path, spec, target="cpu"))
