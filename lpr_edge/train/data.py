"""Training data: a pool of synthetic plates plus real crops, both passed through camera effects.

Everything is seeded: the same seed gives the same pool, the same split and the same batches.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset

from .. import synth
from ..datasets import Sample, load_images
from ..runtime.preprocess import preprocess_batch
from ..spec import ModelSpec
from ..synth import PlateStyles
from ..synth.camera import camera_effects
from ..synth.world import world_effects
from .options import TrainOptions


def class_index(spec: ModelSpec) -> dict[str, int]:
    """Each symbol of ``spec``'s alphabet (blank excluded) to its class index."""
    return {ch: i for i, ch in enumerate(spec.class_symbols) if ch}


def encode_label(text: str, spec: ModelSpec) -> list[int] | None:
    """Class indices of ``text`` in ``spec``'s alphabet, or None if a symbol is not in it."""
    lut = class_index(spec)
    text = spec.normalise_label(text)
    try:
        return [lut[ch] for ch in text]
    except KeyError:
        return None


def pool_size(opts: TrainOptions) -> int:
    """How many synthetic plates a run renders: ``--synth``, but never more than the samples it draws
    (a short run does not render a long run's pool; a pool's first plates are the same at any size)."""
    return max(1, min(opts.synth, opts.steps * opts.batch))


def synth_pool(n: int, seed: int, layout: str = "us",
               styles: PlateStyles = PlateStyles()) -> tuple[np.ndarray, list[str]]:
    """``n`` clean synthetic plates of ``layout`` (BGR, 200x100 us, 300x100 br) drawn with ``styles``
    (:class:`~lpr_edge.synth.PlateStyles`), in memory: re-rendered on resume, the same for a seed.
    A progress bar shows where stderr is a terminal."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    plates = [synth.render(rng, layout, styles=styles)
              for _ in tqdm(range(n), desc="rendering synthetic plates", unit="plate", disable=None)]
    return np.stack([p.image for p in plates]), [p.text for p in plates]


def pool_styles(opts: TrainOptions) -> dict:
    """The ``synth_pool`` keywords a run's options ask for: its layout, and its plate styles (each
    share from its ``--synth-...`` option; emblems come with the world augmentation)."""
    shares = {f.name: getattr(opts, f"synth_{f.name}") for f in PlateStyles.shares()}
    return {"layout": opts.synth_layout, "styles": PlateStyles(emblems=opts.augment == "world", **shares)}


def load_real(samples: Sequence[Sample], spec: ModelSpec) -> tuple[list[np.ndarray], list[list[int]]]:
    """Decode real training crops (downscaled to at most 200 px wide) with encodable labels."""
    images, kept, _ = load_images(samples)
    out_imgs, out_labels = [], []
    for img, s in zip(images, kept):
        label = encode_label(s.text, spec)
        if not label:
            continue
        h, w = img.shape[:2]
        if w > 200:
            img = cv2.resize(img, (200, max(1, round(h * 200 / w))), interpolation=cv2.INTER_AREA)
        out_imgs.append(img)
        out_labels.append(label)
    return out_imgs, out_labels


class PlateStream(IterableDataset):
    """An endless stream of (tensor [3,H,W], label indices) mixing real and synthetic plates."""

    def __init__(self, spec: ModelSpec, pool_images: np.ndarray, pool_texts: Sequence[str],
                 real_images: Sequence[np.ndarray], real_labels: Sequence[Sequence[int]],
                 real_fraction: float = 0.4, seed: int = 0, start: int = 0, augment: str = "camera"):
        self.spec = spec
        self.pool_images, self.pool_labels = pool_images, [encode_label(t, spec) for t in pool_texts]
        self.real_images, self.real_labels = list(real_images), [list(lbl) for lbl in real_labels]
        self.real_fraction = real_fraction if self.real_images else 0.0
        self.seed, self.start = seed, start
        self.augment = augment  # "camera": camera effects only; "world": surroundings, marks and light first

    def __iter__(self) -> Iterator[tuple[torch.Tensor, list[int]]]:
        # A restart (resume) continues with a fresh, still deterministic stream. Each data-loader
        # worker draws its own stream: the same one in every worker would repeat each batch.
        info = torch.utils.data.get_worker_info()
        worker = [] if info is None or info.id == 0 else [info.id]
        rng = np.random.default_rng([self.seed, self.start, *worker])
        buf = np.empty((1, *self.spec.input_shape), np.float32)
        while True:
            real = rng.random() < self.real_fraction
            if real:
                i = rng.integers(len(self.real_images))
                img, label = self.real_images[i], self.real_labels[i]
            else:
                i = rng.integers(len(self.pool_images))
                img, label = self.pool_images[i], self.pool_labels[i]
            if real:
                # Real crops are tight: add margins/blur/etc. most of the time, keep some clean.
                if self.augment == "world" and rng.random() < 0.6:
                    img = world_effects(img, rng, on_plate=False)
                    img = camera_effects(img, rng, float(rng.uniform(0.0, 0.8)), margins=False)
                else:
                    img = camera_effects(img, rng, float(rng.choice([0.0, 0.5, 1.0], p=[0.2, 0.4, 0.4])))
            elif self.augment == "world" and rng.random() < 0.8:
                img = world_effects(img, rng)
                img = camera_effects(img, rng, float(rng.uniform(0.3, 1.0)), margins=False)
            else:
                img = camera_effects(img, rng, float(rng.uniform(0.3, 1.0)))
            preprocess_batch([img], self.spec, out=buf)
            yield torch.from_numpy(buf[0].copy()), label


def collate(batch):
    """Stack images; concatenate labels the way CTC loss wants them."""
    images = torch.stack([b[0] for b in batch])
    targets = torch.tensor([c for b in batch for c in b[1]], dtype=torch.long)
    lengths = torch.tensor([len(b[1]) for b in batch], dtype=torch.long)
    return images, targets, lengths
