"""sirius-ai/LPRNet_Pytorch checkpoints -> ONNX (input ``data`` [N,3,24,94] BGR, logits [N,68,18]).

The network is written here from the LPRNet paper and the checkpoint's tensor names (no code is
taken from that repository). Two deliberate changes from the original forward pass:
- its ``MaxPool3d`` over a 4-D tensor pools the channel axis too (kernel 1, stride s), which
  exports badly; here it is a strided channel slice followed by ``MaxPool2d`` (same numbers);
- the global-context normalisation divides each feature map by its mean square taken over the
  whole batch, so a plate's result depends on its batch-mates; here the mean is per sample.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import write_bytes
from ..errors import ModelFileError
from ..spec import preset


def _build_net():
    from .lprnet_pytorch_net import LPRNetPytorch

    return LPRNetPytorch()


def load_lprnet_pytorch(weights: str | os.PathLike):
    """The network with the checkpoint's weights, in eval mode."""
    import torch

    p = Path(weights)
    if not p.is_file():
        raise ModelFileError(f"checkpoint {p} does not exist")
    try:
        state = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelFileError(f"{p} is not a readable PyTorch checkpoint ({type(exc).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    net = _build_net()
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{p} is not an LPRNet_Pytorch checkpoint: {str(exc).splitlines()[0][:200]}") from None
    return net.eval()


def convert(weights: str | os.PathLike, out: str | os.PathLike, simplify: bool = True) -> Path:
    """Write the ONNX (dynamic batch, opset 17, onnxsim-simplified, spec embedded, checked)."""
    from ..train.export import module_to_onnx

    model = module_to_onnx(load_lprnet_pytorch(weights), preset("lprnet-pytorch"), "lpr-edge convert lprnet-pytorch",
                           simplify)
    write_bytes(out, model.SerializeToString())
    return Path(out)


def torch_logits(weights: str | os.PathLike, batch: np.ndarray) -> np.ndarray:
    """Logits of the PyTorch network on a preprocessed batch (for checking the export)."""
    import torch

    with torch.no_grad():
        return load_lprnet_pytorch(weights)(torch.from_numpy(batch)).numpy()
