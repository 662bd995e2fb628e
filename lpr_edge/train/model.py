"""LPRNet as NVIDIA's model card describes it: a ResNet backbone whose stride is cut to 4 along
the width, so a 3x48x96 crop becomes 24 character slices, each classified into a symbol or the
CTC blank.

Sized for edge devices and INT8: plain conv/BN/ReLU residual blocks (they fuse and quantise well
in TensorRT), no LSTM (the sequence head is a 1x3 convolution over time steps).
"""
from __future__ import annotations

import torch
from torch import nn

from .options import ENSEMBLE_COMBINERS


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


class LPRNet(nn.Module):
    """ResNet-style LPRNet. Input [N,3,48,96] in [0,1]; output logits [N,24,num_classes]."""

    frozen: tuple[str, ...] = ()  # child modules kept fixed when fine-tuning (their BNs stay in eval)

    def __init__(self, num_classes: int = 36, widths=(32, 64, 128), head: int = 256):
        super().__init__()
        c1, c2, c3 = widths
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

    def forward(self, x):
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
