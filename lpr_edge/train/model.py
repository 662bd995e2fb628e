"""LPRNet as NVIDIA's model card describes it: a ResNet backbone whose stride is cut to 4 along
the width, so a 3x48x96 crop becomes 24 character slices, each classified into a symbol or the
CTC blank.

Sized for edge devices and INT8: plain conv/BN/ReLU residual blocks (they fuse and quantise well
in TensorRT), no LSTM (the sequence head is a 1x3 convolution over time steps).
"""
from __future__ import annotations

import torch
from torch import nn

from .export import ENSEMBLE_COMBINERS


class ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, k=3, stride=1, relu: bool = True):
        kh, kw = (k, k) if isinstance(k, int) else k
        layers = [nn.Conv2d(cin, cout, (kh, kw), stride, (kh // 2, kw // 2), bias=False), nn.BatchNorm2d(cout)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class BasicBlock(nn.Module):
    """ResNet basic block; a strided 1x1 projection when the shape changes."""

    def __init__(self, cin: int, cout: int, stride=1):
        super().__init__()
        self.conv1 = ConvBN(cin, cout, 3, stride)
        self.conv2 = ConvBN(cout, cout, 3, 1, relu=False)
        self.short = None if (cin == cout and stride == 1) else ConvBN(cin, cout, 1, stride, relu=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        s = x if self.short is None else self.short(x)
        return self.relu(self.conv2(self.conv1(x)) + s)


class Aligner(nn.Module):
    """A spatial transformer limited to scale and shift per axis, to undo loose or offset crops.

    A small localisation network predicts, per image, how much to zoom and shift along x and y;
    the crop is then resampled bilinearly. The resampling is written as two matrix products
    (rows, then columns) with tent-shaped interpolation weights instead of ONNX GridSample, so it
    exports to MatMul/Abs/Relu, which every TensorRT version we support parses and runs in FP16
    (TensorRT's GridSample layer is newer than JetPack 5's TensorRT 8.5). Starts as the identity.
    """

    def __init__(self, height: int = 48, width: int = 96, max_zoom: float = 0.5, max_shift: float = 0.5,
                 passes: int = 1):
        super().__init__()
        # The head sees a 3x6 map, not a global average: where the plate's edges are is what tells
        # the zoom and shift (a globally pooled head learnt one fixed zoom for every crop).
        self.loc = nn.Sequential(nn.AvgPool2d(2), ConvBN(3, 16, 3, 2), ConvBN(16, 32, 3, 2), nn.AvgPool2d(2),
                                 nn.Flatten(), nn.Linear(32 * (height // 16) * (width // 16), 32),
                                 nn.ReLU(inplace=True), nn.Linear(32, 4))
        nn.init.zeros_(self.loc[-1].weight)
        nn.init.zeros_(self.loc[-1].bias)
        self.max_zoom, self.max_shift = max_zoom, max_shift
        # Passes > 1: the same head looks again at the crop as the previous passes framed it and
        # corrects what is left (one look under-zooms loose crops); the crop is resampled once more
        # per extra pass, with the composed transform, always from the original pixels.
        self.passes = passes
        # Output pixel centres in [-1, 1] (align_corners=False) and the source pixel indices.
        self.register_buffer("ux", (torch.arange(width) * 2 + 1) / width - 1, persistent=False)
        self.register_buffer("uy", (torch.arange(height) * 2 + 1) / height - 1, persistent=False)
        self.register_buffer("jx", torch.arange(width, dtype=torch.float32), persistent=False)
        self.register_buffer("jy", torch.arange(height, dtype=torch.float32), persistent=False)

    def look(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 4] from one pass of the head: zoom x, shift x, zoom y, shift y (1, 0, 1, 0 = identity)."""
        p = torch.tanh(self.loc(x))
        return torch.stack([1 + self.max_zoom * p[:, 0], self.max_shift * p[:, 1],
                            1 + self.max_zoom * p[:, 2], self.max_shift * p[:, 3]], dim=1)

    def params(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 4]: the transform of all passes composed (what :meth:`forward` applies to ``x``)."""
        p = self.look(x)
        for _ in range(1, self.passes):
            q = self.look(self.resample(x, p))
            # Source position of the second look's output pixel u: z1 * (z2 * u + s2) + s1.
            p = torch.stack([p[:, 0] * q[:, 0], p[:, 0] * q[:, 1] + p[:, 1],
                             p[:, 2] * q[:, 2], p[:, 2] * q[:, 3] + p[:, 3]], dim=1)
        return p

    @staticmethod
    def _weights(zoom, shift, u, j) -> torch.Tensor:
        """[N, out, in] bilinear weights: output pixel i reads source position zoom*u_i + shift."""
        size = j.shape[0]
        src = ((zoom[:, None] * u[None, :] + shift[:, None]) + 1) * (size / 2) - 0.5  # [N, out] in pixels
        return torch.relu(1 - (src[:, :, None] - j[None, None, :]).abs())

    def resample(self, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """``x`` [N, C, H, W] resampled by the [N, 4] zoom/shift ``p``."""
        wx = self._weights(p[:, 0], p[:, 1], self.ux, self.jx)   # [N, W, W]
        wy = self._weights(p[:, 2], p[:, 3], self.uy, self.jy)   # [N, H, H]
        return wy[:, None] @ x @ wx[:, None].transpose(-1, -2)  # [N, C, H, W]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resample(x, self.params(x))


class LPRNet(nn.Module):
    """ResNet-style LPRNet. Input [N,3,48,96] in [0,1]; output logits [N,24,num_classes]."""

    frozen: tuple[str, ...] = ()  # child modules kept fixed when fine-tuning (their BNs stay in eval)

    def __init__(self, num_classes: int = 36, widths=(32, 64, 128), head: int = 256, align: bool = False,
                 align_passes: int = 1):
        super().__init__()
        c1, c2, c3 = widths
        self.align = Aligner(passes=align_passes) if align else None  # optional spatial transformer in front
        self.stem = ConvBN(3, c1, 3, 2)                      # 24x48
        self.stage1 = BasicBlock(c1, c1)                     # 24x48
        self.stage2 = nn.Sequential(BasicBlock(c1, c2, 2), BasicBlock(c2, c2))          # 12x24
        self.stage3 = nn.Sequential(BasicBlock(c2, c3, (2, 1)), BasicBlock(c3, c3))     # 6x24
        self.collapse = ConvBN(c3, head, (6, 1))             # height 6 -> 1 (valid conv below)
        self.collapse[0].padding = (0, 0)
        self.context = ConvBN(head, head, (1, 3))            # neighbouring slices
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Conv2d(head, num_classes, 1)

    def train(self, mode: bool = True):
        super().train(mode)
        for name in self.frozen:
            getattr(self, name).eval()
        return self

    def forward(self, x, align_params: torch.Tensor | None = None):
        """``align_params``: the aligner's zoom/shift for ``x`` if the caller has them already (training
        with ``--align-box`` needs them for its loss); computed here otherwise."""
        if self.align is not None:
            x = self.align(x) if align_params is None else self.align.resample(x, align_params)
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        x = self.context(self.collapse(x))
        x = self.classifier(self.dropout(x))                 # [N, C, 1, 24]
        return x.squeeze(2).permute(0, 2, 1)                 # [N, 24, C]


class TaoHeads(nn.Module):
    """Wraps LPRNet with the TAO US export heads: softmax, then ArgMax (int32) and Max over classes.

    Several networks make a prediction ensemble (one network's time per member). ``combine``:
    ``select`` gives each plate the whole reading of the member most confident of it (highest sum
    over slices of the log max probability), so no two members' slice alignments are mixed;
    ``mean`` averages the members' softmax per slice, which drops or doubles characters when
    members place a character one slice apart (models README, ens2)."""

    def __init__(self, *nets: LPRNet, combine: str = "select"):
        super().__init__()
        if not nets:
            raise ValueError("TaoHeads needs at least one network")
        if combine not in ENSEMBLE_COMBINERS:
            raise ValueError(f"combine must be one of {ENSEMBLE_COMBINERS}, not {combine!r}")
        self.net = nets[0]  # its own name, so a single network's export keeps its node names (/net/...)
        self.others = nn.ModuleList(nets[1:])
        self.combine = combine

    def forward(self, image_input):
        probs = [torch.softmax(net(image_input), dim=-1) for net in (self.net, *self.others)]
        if self.combine == "mean" and len(probs) > 1:
            probs = [sum(probs) / len(probs)]
        scores, idx = probs[0].max(dim=-1)
        if len(probs) > 1:
            best = torch.log(scores).sum(dim=1, keepdim=True)
            for p in probs[1:]:
                s, i = p.max(dim=-1)
                conf = torch.log(s).sum(dim=1, keepdim=True)
                take = conf > best
                scores, idx, best = torch.where(take, s, scores), torch.where(take, i, idx), torch.maximum(conf, best)
        return idx.to(torch.int32), scores


def count_macs(net: nn.Module, shape=(1, 3, 48, 96)) -> int:
    """Multiply-accumulates of convolutions and linear layers for one input of ``shape``."""
    macs = 0

    def hook(mod, inp, out):
        nonlocal macs
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
            macs += out.numel() * k
        elif isinstance(mod, nn.Linear):
            macs += out.numel() * mod.in_features

    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros(shape))
    net.train(was_training)
    for h in hooks:
        h.remove()
    return macs
