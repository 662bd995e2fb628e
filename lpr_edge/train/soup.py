"""Average the weights of several fine-tuning runs into one model (a "model soup").

Runs fine-tuned from the same start (``lpr-edge train --init``) with different seeds stay close
enough in weight space that their element-wise average is a working network, usually better than
each run alone, at the cost of one model at inference (Wortsman et al., 2022, "Model soups").
Runs trained from scratch do not: each finds its own solution, and their average reads nothing.
So only checkpoints that name the same ``--init`` and the same architecture and spec are averaged.
"""
from __future__ import annotations

import os
from typing import Sequence

from ..errors import InputError
from ..spec import ModelSpec
from .checkpoint import load_checkpoint, read_checkpoint

# Checkpoint entries that must agree for the average to be one network.
_ARCH_KEYS = ("widths", "head")


def average_checkpoints(paths: Sequence[str | os.PathLike]):
    """The network whose weights (and batch-norm statistics) are the mean of ``paths``' runs.

    Returns ``(net, spec)`` as :func:`lpr_edge.train.checkpoint.load_checkpoint` does. Refuses runs
    trained from scratch, runs from different starts, and different architectures or specs.
    """
    import torch

    if len(paths) < 2:
        raise InputError("averaging needs at least two checkpoints")
    metas = [_meta(p) for p in paths]
    first = metas[0]
    for path, meta in zip(paths, metas):
        if meta["init"] is None:
            raise InputError(f"{path} was trained from scratch; only runs fine-tuned from one start "
                             "(lpr-edge train --init M) can be averaged: runs from scratch do not share "
                             "their solution and their average reads nothing")
        if meta["init"] != first["init"]:
            raise InputError(f"{path} was fine-tuned from {meta['init']}, {paths[0]} from {first['init']}; "
                             "average runs that started from the same model")
        for key in _ARCH_KEYS:
            if meta.get(key) != first.get(key):
                raise InputError(f"{path} has {key} {meta.get(key)}, {paths[0]} has {first.get(key)}; "
                                 "only runs of one architecture can be averaged")
        if meta["spec"] != first["spec"]:
            raise InputError(f"{path} has another model spec (charset, name or input) than {paths[0]}; "
                             "only runs of one spec can be averaged")
    net, spec = load_checkpoint(paths[0])
    spec = spec.replace(framing={})  # the average's characters sit where they sit: fit its own framing
    states = [load_checkpoint(p)[0].state_dict() for p in paths]
    mean = {}
    for name, value in states[0].items():
        if value.is_floating_point():
            mean[name] = torch.stack([s[name] for s in states]).mean(dim=0)
        else:  # batch counters: not part of the function
            mean[name] = value
    net.load_state_dict(mean)
    return net.eval(), spec


def _meta(path: str | os.PathLike) -> dict:
    ck = read_checkpoint(path)
    # a framing (lpr-edge framing) is fitted after training and says nothing about the weights
    spec = ModelSpec.from_dict(ck["spec"]).replace(framing={}).to_dict()
    return {"init": ck.get("init"), "spec": spec,
            **{k: (tuple(ck[k]) if isinstance(ck.get(k), (list, tuple)) else ck.get(k)) for k in _ARCH_KEYS}}
