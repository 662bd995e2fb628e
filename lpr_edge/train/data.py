"""Training data: a pool of synthetic plates plus real crops, both passed through camera effects.

Everything is seeded: the same seed gives the same pool, the same split and the same batches.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset

from .. import synth
from ..atomic import atomic_open
from ..errors import InputError
from ..evaluation.datasets import Sample, load_images
from ..runtime.preprocess import preprocess_batch
from ..spec import ModelSpec
from ..synth import PlateStyles
from ..synth.camera import Box, camera_effects_with_box
from ..synth.stroke_weight import change_stroke_weight
from ..synth.world import BORDER_MARKS, TIGHT_MARGIN, world_effects_with_box
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


def synth_pool(n: int, seed: int, cache_dir: Path | None = None, progress: bool = True,
               layout: str = "us", styles: PlateStyles = PlateStyles()) -> tuple[np.ndarray, list[str]]:
    """``n`` clean synthetic plates of ``layout`` (BGR, 200x100 us, 300x100 br) drawn with ``styles``
    (:class:`~lpr_edge.synth.PlateStyles`), cached under ``cache_dir``."""
    kind = styles.cache_tag(layout)
    name = f"synth_pool_{seed}_{n}.npz" if kind == "us" else f"synth_pool_{kind}_{seed}_{n}.npz"
    cache = cache_dir / name if cache_dir else None
    if cache and cache.exists():
        with np.load(cache) as z:
            return z["images"], [str(t) for t in z["texts"]]
    rng = np.random.default_rng(seed)
    it = range(n)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="rendering synthetic plates", unit="plate")
    plates = [synth.render(rng, layout, styles=styles) for _ in it]
    images = np.stack([p.image for p in plates])
    texts = [p.text for p in plates]
    if cache:
        with atomic_open(cache, "wb") as fh:
            np.savez_compressed(fh, images=images, texts=np.array(texts))  # 1.2 GB -> 0.14 GB for 20,000 plates
    return images, texts


def pool_styles(opts: TrainOptions) -> dict:
    """The ``synth_pool`` keywords a run's options ask for: its layout, and its plate styles (each
    share from its ``--synth-...`` option; emblems come with the world augmentation)."""
    shares = {f.name: getattr(opts, f"synth_{f.name}") for f in PlateStyles.shares()}
    return {"layout": opts.synth_layout, "styles": PlateStyles(emblems=opts.augment == "world", **shares)}


def stream_styles(opts: TrainOptions) -> dict:
    """The ``PlateStream`` keywords a run's options ask for (how its crops are augmented)."""
    return {"augment": opts.augment, "border_marks": opts.border_marks, "tight_margin": opts.tight_margin,
            "stroke_weight": opts.stroke_weight}


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


def parse_oversample(text: str | None) -> tuple[str, float] | None:
    """``--oversample ODQ=3`` as (symbols, factor); None for no oversampling."""
    if text is None:
        return None
    symbols, _, factor = text.partition("=")
    try:
        n = float(factor)
    except ValueError:
        n = 0.0
    if not symbols or not 1 <= n < float("inf"):
        raise InputError(f"--oversample {text!r}: give SYMBOLS=N with N >= 1, e.g. ODQ=3")
    return symbols, n


def oversample_weights(text: str | None, spec: ModelSpec, labels: Sequence[Sequence[int]]) -> list[float] | None:
    """A drawing weight per real crop: N for those holding one of ``--oversample``'s symbols, else 1."""
    parsed = parse_oversample(text)
    if parsed is None:
        return None
    symbols, n = parsed
    lut = class_index(spec)
    missing = [ch for ch in symbols if ch not in lut]
    if missing:
        raise InputError(f"--oversample {text!r}: {''.join(missing)} not among the model's symbols {spec.charset}")
    wanted = {lut[ch] for ch in symbols}
    return [n if wanted.intersection(lbl) else 1.0 for lbl in labels]


class PlateStream(IterableDataset):
    """An endless stream of (tensor [3,H,W], label indices, plate frame) mixing real and synthetic plates."""

    def __init__(self, spec: ModelSpec, pool_images: np.ndarray, pool_texts: Sequence[str],
                 real_images: Sequence[np.ndarray], real_labels: Sequence[Sequence[int]],
                 real_fraction: float = 0.4, seed: int = 0, start: int = 0, augment: str = "camera",
                 border_marks: float = BORDER_MARKS, real_weights: Sequence[float] | None = None,
                 tight_margin: float = TIGHT_MARGIN, stroke_weight: float = 0.0):
        self.spec = spec
        self.pool_images, self.pool_labels = pool_images, [encode_label(t, spec) for t in pool_texts]
        self.real_images, self.real_labels = list(real_images), [list(lbl) for lbl in real_labels]
        self.real_fraction = real_fraction if self.real_images else 0.0
        self.seed, self.start = seed, start
        self.augment = augment  # "camera": camera effects only; "world": surroundings, marks and light first
        self.border_marks = border_marks
        self.tight_margin = tight_margin  # how far a world crop may cut into the plate per side
        self.stroke_weight = stroke_weight  # share of crops drawn with thicker or thinner strokes
        # Drawing probabilities of the real crops (--oversample); None draws them alike, as before it existed.
        self.real_p = None if real_weights is None else np.asarray(real_weights, float) / np.sum(real_weights)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, list[int], torch.Tensor]]:
        """(image tensor, label indices, where the plate is: ``frame(box)`` of the augmented crop)."""
        # A restart (resume) continues with a fresh, still deterministic stream. Each data-loader
        # worker draws its own stream: the same one in every worker would repeat each batch.
        info = torch.utils.data.get_worker_info()
        worker = [] if info is None or info.id == 0 else [info.id]
        rng = np.random.default_rng([self.seed, self.start, *worker])
        buf = np.empty((1, *self.spec.input_shape), np.float32)
        while True:
            real = rng.random() < self.real_fraction
            if real:
                n = len(self.real_images)
                i = rng.integers(n) if self.real_p is None else rng.choice(n, p=self.real_p)
                img, label = self.real_images[i], self.real_labels[i]
            else:
                i = rng.integers(len(self.pool_images))
                img, label = self.pool_images[i], self.pool_labels[i]
            # nothing is drawn when the share is 0, so streams of runs made before it existed reproduce
            if self.stroke_weight and rng.random() < self.stroke_weight:
                img = change_stroke_weight(img, rng)
            h, w = img.shape[:2]
            box: Box = (0.0, 0.0, float(w), float(h))  # a real crop counts as the plate
            if real:
                # Real crops are tight: add margins/blur/etc. most of the time, keep some clean.
                if self.augment == "world" and rng.random() < 0.6:
                    img, box = world_effects_with_box(img, rng, on_plate=False, border_marks=self.border_marks,
                                                      tight=self.tight_margin)
                    img, box = camera_effects_with_box(img, box, rng, float(rng.uniform(0.0, 0.8)), margins=False)
                else:
                    strength = float(rng.choice([0.0, 0.5, 1.0], p=[0.2, 0.4, 0.4]))
                    img, box = camera_effects_with_box(img, box, rng, strength)
            elif self.augment == "world" and rng.random() < 0.8:
                img, box = world_effects_with_box(img, rng, border_marks=self.border_marks, tight=self.tight_margin)
                img, box = camera_effects_with_box(img, box, rng, float(rng.uniform(0.3, 1.0)), margins=False)
            else:
                img, box = camera_effects_with_box(img, box, rng, float(rng.uniform(0.3, 1.0)))
            preprocess_batch([img], self.spec, out=buf)
            yield torch.from_numpy(buf[0].copy()), label, frame(box, img.shape[1], img.shape[0])


def frame(box: Box, width: int, height: int) -> torch.Tensor:
    """The aligner's parameters that frame ``box`` (pixels of a ``width`` x ``height`` crop):
    [zoom x, shift x, zoom y, shift y], the box's half-size and centre in coordinates where the
    crop spans -1..1; a box beyond the crop is cut at its edge (there is nothing to see there)."""
    x0, y0, x1, y1 = (float(np.clip(2 * v / size - 1, -1, 1))
                      for v, size in zip(box, (width, height, width, height)))
    return torch.tensor([(x1 - x0) / 2, (x0 + x1) / 2, (y1 - y0) / 2, (y0 + y1) / 2])


def collate(batch):
    """Stack images and frames; concatenate labels the way CTC loss wants them."""
    images = torch.stack([b[0] for b in batch])
    targets = torch.tensor([c for b in batch for c in b[1]], dtype=torch.long)
    lengths = torch.tensor([len(b[1]) for b in batch], dtype=torch.long)
    return images, targets, lengths, torch.stack([b[2] for b in batch])
