"""Reading a labelled dataset with a Recognizer and scoring it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..datasets import Sample, load_images
from ..runtime.decode import PlateResult
from .metrics import Accuracy, PairedChange, paired_change, score


@dataclass
class EvalReport:
    """Accuracy plus every prediction, in dataset order."""

    accuracy: Accuracy
    samples: list[Sample]
    labels: list[str]
    results: list[PlateResult]
    skipped: list[str]

    def to_dict(self) -> dict:
        d = self.accuracy.to_dict()
        d["skipped"] = len(self.skipped)
        return d

    def risk(self, score: str = "plate", target: float = 0.99):
        """Risk-coverage of these readings (see :mod:`lpr_edge.evaluation.risk`)."""
        from .risk import plate_scores, risk_coverage

        correct = [r.text == lbl for r, lbl in zip(self.results, self.labels)]
        return risk_coverage(plate_scores(self.results, score), correct, score, target)


def evaluate(recognizer, samples: Sequence[Sample], *, batch: int | None = None, progress: bool = False,
             skip_unreadable: bool = True) -> EvalReport:
    """Run ``recognizer`` over ``samples`` and score its readings against their labels.

    Labels are mapped into the model's alphabet first (e.g. ``O`` -> ``0`` for the US charset).
    """
    images, kept, skipped = load_images(samples, skip_unreadable=skip_unreadable)
    images, kept, unusable = usable_crops(images, kept, strict=not skip_unreadable)
    return evaluate_images(recognizer, images, kept, skipped=skipped + unusable, batch=batch, progress=progress)


def usable_crops(images: Sequence[np.ndarray], samples: Sequence[Sample], *, strict: bool = False):
    """The images the Recognizer can read as crops, their samples, and a line for each left out (a whole
    photo over the crop size limit, say); ``strict`` raises on the first instead."""
    from ..errors import DatasetError
    from ..runtime.preprocess import crop_problem

    kept_images, kept, skipped = [], [], []
    for image, sample in zip(images, samples):
        problem = crop_problem(image)
        if problem is None:
            kept_images.append(image)
            kept.append(sample)
            continue
        if strict:
            raise DatasetError(f"{sample.where()}: the image {problem}")
        skipped.append(f"{sample.where()}: the image {problem}")
    return kept_images, kept, skipped


def evaluate_images(recognizer, images: Sequence[np.ndarray], samples: Sequence[Sample], *, skipped=(),
                    batch: int | None = None, progress: bool = False) -> EvalReport:
    """Read decoded crops (one per sample, e.g. cut at a margin) and score them against the samples' labels."""
    batch = batch or recognizer.max_batch
    results: list[PlateResult] = []
    steps = range(0, len(images), batch)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="evaluating", unit="batch", leave=False)
    for i in steps:
        results += recognizer.recognize_batch(images[i:i + batch])
    labels = [recognizer.spec.normalise_label(s.text) for s in samples]
    return EvalReport(score([r.text for r in results], labels), list(samples), labels, results, list(skipped))


@dataclass
class SampleSet:
    """Crops held in memory to time with and, where labelled, to score on."""

    name: str
    images: list[np.ndarray]
    labels: list[str] = field(default_factory=list)


def synthetic_sample_set(n: int = 64, seed: int = 7) -> SampleSet:
    """``n`` synthetic US-style plates with camera effects, the same for the same seed.

    Seeds used elsewhere, so the sets never overlap: 0 training pool, 11 calibration, 7 the
    built-in bench set, 2026 the INT8 comparison set of ``lpr-edge calibrate --eval-data synthetic``.
    """
    from .. import synth

    plates = synth.generate(n, seed=seed)
    return SampleSet(f"synthetic ({n} plates, seed {seed})", [p.image for p in plates], [p.text for p in plates])


def dataset_sample_set(name: str, samples: Sequence[Sample]) -> SampleSet:
    """The readable crops of ``samples``, decoded once, with their labels."""
    images, kept, _ = load_images(samples)
    return SampleSet(name, images, [s.text for s in kept])


@dataclass
class ModelReading:
    """One model's readings of a labelled sample set: the unit every comparison (bench with several
    models, FP32 vs INT8 in calibrate, per-layer sensitivity) is made of."""

    model: str
    readings: list[str]
    labels: list[str]  # in the model's alphabet
    accuracy: Accuracy

    @classmethod
    def of(cls, recognizer, sample_set: SampleSet) -> "ModelReading":
        """Read ``sample_set`` with an open Recognizer."""
        batch = recognizer.max_batch
        preds = [r.text for i in range(0, len(sample_set.images), batch)
                 for r in recognizer.recognize_batch(sample_set.images[i:i + batch])]
        labels = [recognizer.spec.normalise_label(t) for t in sample_set.labels]
        return cls(str(recognizer.model_path), preds, labels, score(preds, labels))

    def against(self, reference: "ModelReading") -> PairedChange:
        """Plate by plate against ``reference`` (same plates): changed, gained, lost, McNemar p."""
        return paired_change(reference.readings, self.readings, self.labels)

    def agreement(self, reference: "ModelReading") -> float:
        """Share of plates both read the same (right or wrong)."""
        return float(np.mean([a == b for a, b in zip(self.readings, reference.readings)]))


def read_model(model, sample_set: SampleSet, **recognizer_options) -> ModelReading:
    """Open ``model`` (path or bundled name), read ``sample_set``, close it."""
    from ..runtime.recognizer import Recognizer

    with Recognizer(model, **recognizer_options) as rec:
        return ModelReading.of(rec, sample_set)


def eval_sample_set(data: str, split_side: str = "all", samples: int = 3000) -> SampleSet:
    """A labelled folder (one side of its fixed split), or ``synthetic``: generated plates from a seed
    never used for training or calibration (2026)."""
    if data == "synthetic":
        return synthetic_sample_set(samples, seed=2026)
    from ..datasets import load_split

    return dataset_sample_set(f"{data} ({split_side})", load_split(data, split_side)[0])
