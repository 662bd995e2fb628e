"""The LPRNet of sirius-ai/LPRNet_Pytorch, written from its description (no code copied), with its
channel-strided 3-D max-pools as slice + 2-D max-pool and the global-context normalisation per
sample. Imported only when a checkpoint is converted (needs PyTorch)."""
from __future__ import annotations

import torch
from torch import nn


class SmallBasicBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        mid = cout // 4
        self.block = nn.Sequential(
            nn.Conv2d(cin, mid, 1), nn.ReLU(),
            nn.Conv2d(mid, mid, (3, 1), padding=(1, 0)), nn.ReLU(),
            nn.Conv2d(mid, mid, (1, 3), padding=(0, 1)), nn.ReLU(),
            nn.Conv2d(mid, cout, 1))

    def forward(self, x):
        return self.block(x)

class ChannelStridePool(nn.Module):
    """MaxPool3d((1,3,3), stride=(sc, sh, sw)) on [N,C,H,W] == channel slice ::sc then MaxPool2d."""

    def __init__(self, sc, sh, sw):
        super().__init__()
        self.sc = sc
        self.pool = nn.MaxPool2d(3, (sh, sw))

    def forward(self, x):
        return self.pool(x[:, ::self.sc] if self.sc > 1 else x)

class LPRNetPytorch(nn.Module):
    KEEP = (2, 6, 13, 22)  # backbone outputs feeding the global context

    def __init__(self, num_classes=68):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU(),            # 0-2
            ChannelStridePool(1, 1, 1),                                      # 3
            SmallBasicBlock(64, 128), nn.BatchNorm2d(128), nn.ReLU(),        # 4-6
            ChannelStridePool(2, 1, 2),                                      # 7
            SmallBasicBlock(64, 256), nn.BatchNorm2d(256), nn.ReLU(),        # 8-10
            SmallBasicBlock(256, 256), nn.BatchNorm2d(256), nn.ReLU(),       # 11-13
            ChannelStridePool(4, 1, 2),                                      # 14
            nn.Dropout(0.0),                                                 # 15
            nn.Conv2d(64, 256, (1, 4)), nn.BatchNorm2d(256), nn.ReLU(),      # 16-18
            nn.Dropout(0.0),                                                 # 19
            nn.Conv2d(256, num_classes, (13, 1)), nn.BatchNorm2d(num_classes), nn.ReLU(),  # 20-22
        )
        self.container = nn.Sequential(nn.Conv2d(64 + 128 + 256 + num_classes, num_classes, 1))
        self.pool5 = nn.AvgPool2d(5, 5)
        self.pool_wide = nn.AvgPool2d((4, 10), (4, 2))

    def forward(self, x):
        kept = []
        for i, layer in enumerate(self.backbone):
            x = layer(x)
            if i in self.KEEP:
                kept.append(x)
        context = []
        for i, f in enumerate(kept):
            if i < 2:
                f = self.pool5(f)
            elif i == 2:
                f = self.pool_wide(f)
            f = f / (f * f).mean(dim=(1, 2, 3), keepdim=True)  # per sample (see module doc)
            context.append(f)
        x = self.container(torch.cat(context, 1))
        return x.mean(dim=2)  # [N, classes, 18]
