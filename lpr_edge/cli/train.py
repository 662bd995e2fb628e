"""lpr-edge train: train LPRNet from scratch, or fine-tune a trained one to a new region with --init
(needs the train extra: pip install 'lpr-edge[train]')."""
from __future__ import annotations

from pathlib import Path

from .common import require_torch


def add_parser(sub, name):
    p = sub.add_parser(name, help="train LPRNet with CTC loss, or fine-tune one (--init; PyTorch)", description=__doc__)
    from ..train.options import add_arguments

    add_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    require_torch("training")
    from ..train.loop import train

    best = train(args)
    print(f"best checkpoint: {best}")
    # last.pt, as the README's workflow: best.pt is the checkpoint chosen on the validation crops
    last = Path(best).parent / "last.pt"
    data = f" --data {args.real}" if args.real else " --data DIR"
    print(f"next: lpr-edge export {last} -o MODEL.onnx, then lpr-edge framing --model MODEL.onnx{data} "
          "-o MODEL.onnx (where its characters sit, so loose crops are read again; no framing is inherited)")
    return 0
