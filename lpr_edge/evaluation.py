"""Reading a labelled dataset with a Recognizer and scoring it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .datasets import Sample, load_images
from .decode import PlateResult
from .metrics import Accuracy, score


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


def evaluate(recognizer, samples: Sequence[Sample], *, batch: int | None = None, progress: bool = False,
             skip_unreadable: bool = True) -> EvalReport:
    """Run ``recognizer`` over ``samples`` and score its readings against their labels.

    Labels are mapped into the model's alphabet first (e.g. ``O`` -> ``0`` for the US charset).
    """
    images, kept, skipped = load_images(samples, skip_unreadable=skip_unreadable)
    batch = batch or recognizer.max_batch
    results: list[PlateResult] = []
    steps = range(0, len(images), batch)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="evaluating", unit="batch", leave=False)
    for i in steps:
        results += recognizer.recognize_batch(images[i:i + batch])
    labels = [recognizer.spec.normalise_label(s.text) for s in kept]
    return EvalReport(score([r.text for r in results], labels), kept, labels, results, skipped)
