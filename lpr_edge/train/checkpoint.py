"""Training checkpoints: what ``lpr-edge train`` writes (``last.pt``, ``best.pt``), read back."""
from __future__ import annotations

import os
import pickle

from ..errors import ModelFileError
from ..spec import ModelSpec

RETIRED_TAG = "lab/last-with-retired-training-options"


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The entries of a training checkpoint (weights, spec, architecture, ``init``)."""
    import torch

    try:
        ck = torch.load(str(path), map_location="cpu", weights_only=False)
        ModelSpec.from_dict(ck["spec"])
    except FileNotFoundError:
        raise ModelFileError(f"checkpoint {path} does not exist") from None
    except (KeyError, TypeError, RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError) as exc:
        raise ModelFileError(f"checkpoint {path} is not an lpr-edge training checkpoint "
                             f"({type(exc).__name__})") from None
    if ck.get("align"):
        raise ModelFileError(f"checkpoint {path} has a learnt aligner (lpr-edge train --align), which is retired; "
                             f"export or fine-tune it with lpr-edge at git tag {RETIRED_TAG}")
    return ck


def load_checkpoint(path: str | os.PathLike):
    """Rebuild the network and spec stored in a training checkpoint."""
    from .model import LPRNet

    ck = read_checkpoint(path)
    try:
        spec = ModelSpec.from_dict(ck["spec"])
        net = LPRNet(spec.num_classes, tuple(ck["widths"]), ck["head"])
        net.load_state_dict(ck["model"])
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise ModelFileError(f"checkpoint {path} is not an lpr-edge training checkpoint "
                             f"({type(exc).__name__})") from None
    return net.eval(), spec
