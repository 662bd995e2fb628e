"""lpr-edge convert lprnet-pytorch WEIGHTS.pth -o OUT.onnx: other projects' checkpoints to ONNX."""
from __future__ import annotations

from .common import require_torch


def add_parser(sub, name):
    p = sub.add_parser(name, help="convert a third-party checkpoint to ONNX with a spec", description=__doc__)
    p.add_argument("kind", choices=["lprnet-pytorch"], help="checkpoint family (sirius-ai/LPRNet_Pytorch)")
    p.add_argument("weights", help="checkpoint file (.pth)")
    p.add_argument("-o", "--out", required=True, help="output .onnx")
    p.set_defaults(run=run)


def run(args) -> int:
    require_torch("reading PyTorch checkpoints")
    from ..convert.lprnet_pytorch import convert

    print(convert(args.weights, args.out))
    return 0
