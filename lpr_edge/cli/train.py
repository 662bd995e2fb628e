"""lpr-edge train: train the US LPRNet (needs the train extra: pip install 'lpr-edge[train]')."""
from __future__ import annotations

from ..errors import BackendUnavailable


def add_parser(sub, name):
    p = sub.add_parser(name, help="train the US LPRNet with CTC loss (PyTorch)", description=__doc__)
    from ..train.loop import add_arguments

    add_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise BackendUnavailable("training needs PyTorch: pip install 'lpr-edge[train]'") from None
    from ..train.loop import train

    best = train(args)
    print(f"best checkpoint: {best}")
    return 0
