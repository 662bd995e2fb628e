"""Start training from a trained model (``lpr-edge train --init``): fine-tuning to a new region.

The source is a bundled model name (``us``), an lpr-edge ONNX export or a training checkpoint.
An ONNX export has its batch norms folded into the convolutions; they are unfolded again with
statistics measured on the new data (``gamma = sqrt(var + eps)``, ``beta = mean + bias``), which
computes exactly the exported function in eval mode and starts training with batch statistics
close to the ones it will see. When the character set changes, the classifier rows of symbols both
sets share (and the blank) are copied; the rows of new symbols keep their fresh initialisation.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import ModelFileError
from ..runtime.preprocess import preprocess_batch
from ..spec import ModelSpec
from .checkpoint import RETIRED_TAG
from .model import LPRNet

# Module prefixes each --freeze choice keeps fixed (parameters and batch-norm statistics).
FREEZE_PREFIXES = {"none": (), "stem": ("stem", "stage1"), "backbone": ("stem", "stage1", "stage2", "stage3")}


@dataclass
class Source:
    """A trained model to start from: its network (eval mode), spec and layer sizes."""

    net: LPRNet
    spec: ModelSpec
    widths: tuple[int, int, int]
    head: int


@dataclass
class WarmStart:
    """A network ready to train, initialised from a :class:`Source` for a new spec."""

    net: LPRNet
    widths: tuple[int, int, int]
    head: int
    copied_classes: list[str]
    fresh_classes: list[str]


def load_source(source: str | os.PathLike) -> Source:
    """The network, spec, widths and head size stored in an ONNX export or a checkpoint."""
    from ..bundled import resolve_model

    path = resolve_model(source)
    if not path.is_file():
        raise ModelFileError(f"--init {source}: no such file or bundled model; pass a bundled name (us), "
                             "an .onnx model made by lpr-edge export, or a training checkpoint (.pt)")
    if path.suffix == ".pt":
        from .checkpoint import load_checkpoint

        ck_net, spec = load_checkpoint(path)
        widths = (ck_net.stem[0].out_channels, ck_net.stage2[0].conv1[0].out_channels,
                  ck_net.stage3[0].conv1[0].out_channels)
        return Source(ck_net, spec, widths, ck_net.collapse[0].out_channels)
    return _from_onnx(path)


def _from_onnx(path: Path) -> Source:
    import onnx.numpy_helper

    from ..formats.onnx_spec import load_onnx, spec_from_model

    model = load_onnx(path)
    spec = spec_from_model(model)
    members = sum(n.op_type == "Softmax" for n in model.graph.node)
    if members > 1:
        raise ModelFileError(f"--init {path}: a prediction ensemble of {members} networks (lpr-edge export "
                             "--ensemble-with); fine-tuning starts from one network: pass one member's checkpoint")
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}

    if any(n.op_type in ("Gemm", "MatMul") for n in model.graph.node):
        raise ModelFileError(f"--init {path}: a model with a learnt aligner (lpr-edge train --align), which is "
                             f"retired; fine-tune it with lpr-edge at git tag {RETIRED_TAG}")
    convs = [(inits[n.input[1]], inits[n.input[2]] if len(n.input) > 2 else None)
             for n in model.graph.node if n.op_type == "Conv" and n.input[1] in inits]
    body = [int(w.shape[0]) for w, _ in convs]
    if spec is None or len(body) != 16:
        raise ModelFileError(f"--init {path}: not an lpr-edge LPRNet export (no spec or unexpected layers); "
                             "pass a model made by lpr-edge export or a training checkpoint")
    # In call order: stem, stage 1 (2 convs), stage 2 (shortcut first, then 4), stage 3 (likewise), collapse.
    widths, head = (body[0], body[3], body[8]), body[13]
    net = LPRNet(spec.num_classes, widths, head)
    order = _conv_call_order(net, spec)
    if len(order) != len(convs) or any(tuple(c.weight.shape) != w.shape for c, (w, _) in zip(order, convs)):
        raise ModelFileError(f"--init {path}: its layers do not match lpr-edge's LPRNet with widths {widths}, "
                             f"head {head}")
    with torch.no_grad():
        for conv, (w, b) in zip(order, convs):
            conv.weight.copy_(torch.tensor(w))
            bias = torch.tensor(b) if b is not None else torch.zeros(w.shape[0])
            bn = _bn_after(net, conv)
            if bn is None:
                conv.bias.copy_(bias)
            else:  # identity batch norm carrying the folded bias
                bn.weight.fill_(1.0)
                bn.bias.copy_(bias)
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
    return Source(net.eval(), spec, widths, head)


def _conv_call_order(net: LPRNet, spec: ModelSpec) -> list[nn.Conv2d]:
    """Convolutions in the order the forward pass runs them (= the ONNX graph's node order)."""
    order: list[nn.Conv2d] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append(mod))
             for m in net.modules() if isinstance(m, nn.Conv2d)]
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, *spec.input_shape))
    for h in hooks:
        h.remove()
    return order


def _bn_after(net: nn.Module, conv: nn.Conv2d) -> nn.BatchNorm2d | None:
    """The batch norm that follows ``conv`` inside its ConvBN, if any."""
    for m in net.modules():
        if isinstance(m, nn.Sequential) and len(m) >= 2 and m[0] is conv and isinstance(m[1], nn.BatchNorm2d):
            return m[1]
    return None


def unfold_batchnorms(net: LPRNet, images: Sequence[np.ndarray], spec: ModelSpec) -> None:
    """Give identity batch norms the statistics of ``images`` without changing the function."""
    unfold_on_batches(net, (torch.from_numpy(preprocess_batch(list(images[i:i + 64]), spec))
                            for i in range(0, len(images), 64)))


def unfold_on_batches(net: LPRNet, batches: Iterable[torch.Tensor]) -> None:
    """:func:`unfold_batchnorms` on network inputs already preprocessed (e.g. the training stream's)."""
    pairs = [(m[0], m[1]) for m in net.modules()
             if isinstance(m, nn.Sequential) and len(m) >= 2 and isinstance(m[1], nn.BatchNorm2d)]
    stats: dict[nn.Conv2d, list[torch.Tensor]] = {c: [] for c, _ in pairs}
    hooks = [c.register_forward_hook(lambda mod, i, o: stats[mod].append(o.detach())) for c, _ in pairs]
    net.eval()
    with torch.no_grad():
        for x in batches:
            net(x)
    for h in hooks:
        h.remove()
    with torch.no_grad():
        for conv, bn in pairs:
            out = torch.cat(stats[conv])
            mean, var = out.mean(dim=(0, 2, 3)), out.var(dim=(0, 2, 3), unbiased=False)
            # Only BNs still at identity (folded ONNX); a checkpoint's trained BNs stay as they are.
            identity = torch.allclose(bn.running_mean, torch.zeros_like(mean))
            if identity and torch.allclose(bn.weight, torch.ones_like(mean)):
                bn.bias.add_(mean)
                bn.running_mean.copy_(mean)
                bn.running_var.copy_(var)
                bn.weight.copy_(torch.sqrt(var + bn.eps))


def remap_classifier(net: LPRNet, old: ModelSpec, new: ModelSpec, head: int,
                     seed: int = 0) -> tuple[list[str], list[str]]:
    """Resize the classifier to ``new``'s classes; shared symbols keep their trained rows.

    A new symbol the old model folded into another by its label map (the US model reads ``O`` as
    ``0``) starts from that symbol's row: the old class was trained on both glyphs."""
    old_symbols, new_symbols = old.class_symbols, new.class_symbols
    if old_symbols == new_symbols:
        return new_symbols, []
    torch.manual_seed(seed)
    fresh = nn.Conv2d(head, new.num_classes, 1)
    copied, created = [], []
    with torch.no_grad():
        for j, sym in enumerate(new_symbols):
            source = sym if sym in old_symbols else old.label_map.get(sym)
            if source in old_symbols:
                i = old_symbols.index(source)
                fresh.weight[j] = net.classifier.weight[i]
                fresh.bias[j] = net.classifier.bias[i]
                copied.append((sym or "<blank>") + ("" if source == sym else f"<-{source}"))
            else:
                created.append(sym)
    net.classifier = fresh
    return copied, created


def prepare(source: Source, spec: ModelSpec, images: Sequence[np.ndarray], seed: int = 0) -> WarmStart:
    """Unfold ``source``'s batch norms on ``images`` (the real crops as they are) and fit its
    classifier to ``spec``."""
    if len(images):
        unfold_batchnorms(source.net, images, source.spec)
    copied, fresh = remap_classifier(source.net, source.spec, spec, source.head, seed)
    return WarmStart(source.net, source.widths, source.head, copied, fresh)


def freeze(net: LPRNet, choice: str) -> list[str]:
    """Fix the parameters (and batch-norm statistics) of the layers ``choice`` names."""
    prefixes = FREEZE_PREFIXES[choice]
    frozen = []
    for name, module in net.named_children():
        if name.startswith(prefixes):
            for p in module.parameters():
                p.requires_grad_(False)
            frozen.append(name)
    net.frozen = tuple(frozen)
    return frozen
