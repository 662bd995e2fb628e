"""Hard-example mining for ``lpr-edge train --hard-mining SHARE``.

The plates of each batch that the model found hardest (highest CTC loss per character: misreads
and near-misreads, with the very augmentation that made them hard) are kept in a small first-in
first-out buffer and replayed in later batches, on top of the fresh plates. The model's own errors
on fresh synthetic and real batches thus come back a few times while they are still errors,
without costing any extra plate drawing (the slow part of training).
"""
from __future__ import annotations

from collections import deque

import numpy as np
import torch


class HardExamples:
    """A replay buffer of recent hard plates: ``extend`` a batch with some, ``keep`` the new hardest."""

    def __init__(self, share: float, batch: int, capacity: int = 512, seed: int = 0):
        if not 0.0 < share <= 1.0:
            raise ValueError(f"hard-example share {share} must be in (0, 1]")
        self.k = max(1, round(share * batch))
        self.items: deque[tuple[torch.Tensor, list[int]]] = deque(maxlen=capacity)
        self.rng = np.random.default_rng([seed, 0x4A4D])

    def extend(self, images: torch.Tensor, targets: torch.Tensor,
               lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The batch plus up to ``k`` replayed hard plates (images, concatenated targets, lengths)."""
        if not self.items:
            return images, targets, lengths
        pick = self.rng.choice(len(self.items), size=min(self.k, len(self.items)), replace=False)
        extra = [self.items[i] for i in pick]
        images = torch.cat([images, torch.stack([img.to(images.device) for img, _ in extra])])
        targets = torch.cat([targets, torch.tensor([c for _, lbl in extra for c in lbl], dtype=targets.dtype)])
        lengths = torch.cat([lengths, torch.tensor([len(lbl) for _, lbl in extra], dtype=lengths.dtype)])
        return images, targets, lengths

    def keep(self, images: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor,
             per_char: torch.Tensor) -> None:
        """Remember the ``k`` plates of this batch with the highest CTC loss per character (``per_char``)."""
        per_char = per_char.detach().cpu()
        starts = torch.cumsum(lengths, 0) - lengths
        for i in torch.argsort(per_char, descending=True)[:self.k].tolist():
            s, n = int(starts[i]), int(lengths[i])
            self.items.append((images[i].detach().clone(), targets[s:s + n].tolist()))
