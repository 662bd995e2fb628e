"""Export a trained LPRNet checkpoint to the TAO US ONNX contract.

Input ``image_input`` [N,3,48,96] float32; outputs ``tf_op_layer_ArgMax`` [N,24] int32 and
``tf_op_layer_Max`` [N,24] float32 (max softmax probability), as NVIDIA's TAO US LPRNet, so the
file drops into DeepStream LPR configs; our model spec in ``metadata_props``. Opset 17.
"""
from __future__ import annotations

import io
import os
from typing import Sequence

import numpy as np

from ..atomic import write_bytes
from ..errors import ModelFileError
from ..spec import ModelSpec
from .checkpoint import load_checkpoint

OPSET = 17


def load_member(checkpoint: str | os.PathLike | Sequence[str | os.PathLike]):
    """One network from one checkpoint, or the weight average of several (:mod:`lpr_edge.train.soup`)."""
    if isinstance(checkpoint, (str, os.PathLike)):
        return load_checkpoint(checkpoint)
    if len(checkpoint) == 1:
        return load_checkpoint(checkpoint[0])
    from .soup import average_checkpoints

    return average_checkpoints(checkpoint)


def export_onnx(checkpoint: str | os.PathLike | Sequence[str | os.PathLike], out: str | os.PathLike, *,
                check_images: Sequence[np.ndarray] = (), simplify: bool = True,
                ensemble_with: Sequence[str | os.PathLike | Sequence[str | os.PathLike]] = (),
                combine: str = "select") -> dict:
    """Write the ONNX, simplified and checked; compare it with PyTorch on ``check_images``.

    Several checkpoints (runs fine-tuned from one start) export their weight average
    (:mod:`lpr_edge.train.soup`). Each entry of ``ensemble_with`` (a checkpoint or several to
    average) adds a member to a prediction ensemble combined by ``combine``
    (:class:`~lpr_edge.train.model.TaoHeads`); members may differ in start and architecture but
    not in spec.

    Returns the comparison numbers (argmax agreement, largest score difference).
    """
    import torch

    from ..runtime.preprocess import preprocess_batch
    from .model import TaoHeads

    net, spec = load_member(checkpoint)
    nets = [net]
    for other in ensemble_with:
        other_net, other_spec = load_member(other)
        if other_spec.replace(framing={}) != spec.replace(framing={}):
            raise ModelFileError(f"ensemble member {other} has another model spec (charset, name or input) than "
                                 f"{checkpoint}; members of one ensemble must read the same characters")
        nets.append(other_net)
    if len(nets) > 1:
        spec = spec.replace(framing={})  # the ensemble's characters sit where they sit: fit its own framing
    heads = TaoHeads(*nets, combine=combine).eval()
    model = module_to_onnx(heads, spec, "lpr-edge", simplify)
    data = model.SerializeToString()
    report = {"images": 0, "argmax_equal": 1.0, "max_abs_diff": 0.0}
    if len(check_images):
        import onnxruntime as ort

        x = preprocess_batch(list(check_images), spec)
        with torch.no_grad():
            t_idx, t_max = (v.numpy() for v in heads(torch.from_numpy(x)))
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        o_idx, o_max = sess.run(list(spec.outputs), {spec.input_name: x})
        report = {"images": len(x), "argmax_equal": float((o_idx == t_idx).mean()),
                  "max_abs_diff": float(np.abs(o_max - t_max).max())}
        if o_idx.dtype != np.int32:
            raise ModelFileError(f"exported ArgMax is {o_idx.dtype}, the TAO contract needs int32")
    write_bytes(out, data)
    return report


def module_to_onnx(module, spec: ModelSpec, producer: str, simplify: bool = True):
    """Export a PyTorch module to ONNX (opset 17, dynamic batch on every tensor), simplify it with
    onnxsim, check it against ``spec``, embed the spec and run ``onnx.checker``."""
    import onnx
    import torch

    from ..formats.onnx_spec import embed_spec, validate_spec

    buf = io.BytesIO()
    names = [spec.input_name, *spec.outputs]
    torch.onnx.export(module, torch.zeros(1, *spec.input_shape), buf, input_names=[spec.input_name],
                      output_names=list(spec.outputs), opset_version=OPSET, dynamo=False,
                      dynamic_axes={name: {0: "batch"} for name in names})
    model = onnx.load_from_string(buf.getvalue())
    if simplify:
        import onnxsim

        model, ok = onnxsim.simplify(model)
        if not ok:
            raise ModelFileError("onnxsim could not validate the simplified model")
    model.producer_name = producer
    validate_spec(model, spec, "the exported model")
    embed_spec(model, spec)
    onnx.checker.check_model(model, full_check=True)
    return model
