"""Fitting a model's framing (``lpr-edge framing``): where its characters sit in its training crops,
and the margin to re-read loose crops with (:mod:`lpr_edge.runtime.reframe`).

The spans come from the training crops the model reads right (their first and last non-blank step,
median per reading length); the margin is the one of ``reframe.MARGINS`` that reads the most
validation crops right, ties going to the larger margin (the gentler cut). Neither step looks at a
test set.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import DatasetError
from ..runtime import reframe
from ..runtime.backends import open_backend
from ..runtime.decode import greedy_ctc, step_classes
from ..runtime.preprocess import preprocess_batch
from ..spec import ModelSpec
from .datasets import Sample, load_images


@dataclass
class FramingFit:
    """The fitted framing and what each candidate margin read on the validation crops."""

    framing: dict
    fitted_on: int                      # training crops read right, whose spans were measured
    val_perfect: dict[float, float]     # margin -> share of validation crops read right (None: no reframing)


def _first_readings(model: str | os.PathLike, spec: ModelSpec, images: Sequence[np.ndarray],
                    threads: int = 0) -> tuple[list[str], np.ndarray]:
    backend = open_backend(model, "onnxruntime", spec=spec, threads=threads)
    texts, classes = [], []
    try:
        for i in range(0, len(images), backend.max_batch):
            chunk = images[i:i + backend.max_batch]
            preprocess_batch(chunk, spec, out=backend.input)
            outputs = backend.infer(len(chunk))
            texts += [r.text for r in greedy_ctc(outputs, spec)]
            classes.append(np.array(step_classes(outputs, spec)[:len(chunk)]))
    finally:
        backend.close()
    return texts, np.concatenate(classes)


def fit_framing(model: str | os.PathLike, spec: ModelSpec, train: Sequence[Sample], val: Sequence[Sample], *,
                min_count: int = 20, threads: int = 0, margin: float | None = None,
                read_val: Callable[[ModelSpec], float] | None = None) -> FramingFit:
    """Spans from ``train`` (crops read right), margin chosen on ``val`` unless ``margin`` is given;
    see the module doc."""
    images, kept, _ = load_images(train)
    texts, classes = _first_readings(model, spec.replace(framing={}), images, threads)
    right = [i for i, (text, s) in enumerate(zip(texts, kept)) if text == spec.normalise_label(s.text)]
    spans = reframe.fit_spans(classes[right], [texts[i] for i in right], spec.blank, min_count)
    if not spans:
        raise DatasetError(f"the model reads no plate length right on at least {min_count} of the {len(kept)} "
                           "training crops; give more training crops (or a lower --min-count)")
    if read_val is None:
        read_val = _val_reader(model, val, threads)
    candidates = reframe.MARGINS if margin is None else (margin,)
    scores = {None: read_val(spec.replace(framing={}))}
    for m in candidates:
        scores[m] = read_val(spec.replace(framing={"margin": m, "spans": spans}))
    best = max(candidates, key=lambda m: (scores[m], m))
    return FramingFit({"margin": best, "spans": spans}, len(right), scores)


def _val_reader(model: str | os.PathLike, val: Sequence[Sample], threads: int) -> Callable[[ModelSpec], float]:
    from ..runtime.recognizer import Recognizer
    from .harness import evaluate_images

    images, kept, _ = load_images(val)
    if not kept:
        raise DatasetError("no readable validation crops to choose the margin on")

    def read(spec: ModelSpec) -> float:
        with Recognizer(model, "onnxruntime", spec=spec, threads=threads) as rec:
            return evaluate_images(rec, images, kept).accuracy.perfect_match
    return read
