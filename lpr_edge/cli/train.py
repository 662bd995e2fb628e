"""lpr-edge train: train the US LPRNet (needs the train extra: pip install 'lpr-edge[train]')."""
from __future__ import annotations

from .common import require_torch


def add_parser(sub, name):
    p = sub.add_parser(name, help="train the US LPRNet with CTC loss (PyTorch)", description=__doc__)
    from ..train.options import add_arguments

    add_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    require_torch("training")
    from ..train.loop import train

    best = train(args)
    print(f"best checkpoint: {best}")
    return 0
