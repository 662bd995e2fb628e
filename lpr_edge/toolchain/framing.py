"""Fitting a model's framing (``lpr-edge framing``): where its characters sit in its training crops,
and the margin to re-read loose crops with (:mod:`lpr_edge.runtime.reframe`); written into a copy of
the model (:func:`frame_model`).

The spans come from the training crops the model reads right (their first and last non-blank step,
median per reading length). The margin is one of ``reframe.MARGINS``, chosen in two steps: the
validation crops guard against harm (a margin that reads fewer of them than first readings is out),
and among the rest the one that reads held-out synthetic loose crops best wins (plates of the model's
layout in surroundings, cut at 0-25 % margin per side; validation crops are detector crops, mostly
tight, so they barely tell margins apart). Without a synthetic layout, the best on validation. Ties
go to the larger margin (the gentler cut). Then, at that margin, how crops tighter than training are
extended (``reframe.PADS``: not at all, edge pixels, median colour), by the same two steps; ties go
to not extending. Last, which first readings are sure enough to keep without a second pass
(``reread_below``, one of ``reframe.GATES``): of those that read no fewer validation crops and no
fewer synthetic loose crops than re-reading every crop, the lowest (fewest second passes); none such,
no gate. No step looks at a test set.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..datasets import Sample, load_images
from ..errors import DatasetError
from ..evaluation.margins import crop_at_margin
from ..runtime import reframe
from ..runtime.backends import open_backend
from ..runtime.decode import greedy_ctc, step_classes
from ..runtime.preprocess import preprocess_batch
from ..spec import ModelSpec

LOOSE_SEED = 20261128                            # the synthetic loose crops: no training run draws this seed
LOOSE_CUTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)   # margins per side they are cut at

Reader = Callable[[ModelSpec], float]


@dataclass
class FramingFit:
    """The fitted framing and what each candidate margin read."""

    framing: dict
    fitted_on: int                      # training crops read right, whose spans were measured
    val_perfect: dict                   # margin (None: first readings only) -> share of validation crops read right
    loose_perfect: dict = field(default_factory=dict)  # margin (None: first readings) -> share of the synthetic
    #                                                    loose crops read right, all cuts (with a synthetic layout)
    pad_val_perfect: dict = field(default_factory=dict)    # pad -> validation share, at the chosen margin
    pad_loose_perfect: dict = field(default_factory=dict)  # pad -> synthetic share, at the chosen margin
    gate_val_perfect: dict = field(default_factory=dict)   # reread_below ("off": every crop) -> validation share
    gate_loose_perfect: dict = field(default_factory=dict)  # reread_below -> synthetic share


def _first_readings(model: str | os.PathLike, spec: ModelSpec, images: Sequence[np.ndarray],
                    threads: int = 0) -> tuple[list[str], np.ndarray]:
    backend = open_backend(model, "onnxruntime", spec=spec, threads=threads)
    texts, classes = [], []
    try:
        for i in range(0, len(images), backend.max_batch):
            chunk = images[i:i + backend.max_batch]
            outputs = backend.infer(preprocess_batch(chunk, spec, out=backend.input)).outputs
            texts += [r.text for r in greedy_ctc(outputs, spec)]
            classes.append(np.array(step_classes(outputs, spec)[:len(chunk)]))
    finally:
        backend.close()
    return texts, np.concatenate(classes)


def fit_framing(model: str | os.PathLike, spec: ModelSpec, train: Sequence[Sample], val: Sequence[Sample], *,
                min_count: int = 20, threads: int = 0, margin: float | None = None,
                synth_layout: str | None = None, synth_plates: int = 400, pad: str | None = None,
                reread_below: float | str | None = None,
                say: Callable[[str], None] = lambda message: None) -> FramingFit:
    """Spans from ``train`` (crops read right); the margin, pad and gate as the module doc says, or as
    given (``reread_below="off"``: every crop may be re-read).
    ``say`` hears what each stage is doing (the CLI prints it)."""
    images, kept, _ = load_images(train)
    say(f"reading {len(kept)} training crops for the spans")
    texts, classes = _first_readings(model, spec.replace(framing={}), images, threads)
    right = [i for i, (text, s) in enumerate(zip(texts, kept)) if text == spec.normalise_label(s.text)]
    spans = reframe.fit_spans(classes[right], [texts[i] for i in right], spec.blank, min_count)
    if not spans:
        raise DatasetError(f"the model reads no plate length right on at least {min_count} of the {len(kept)} "
                           "training crops; give more training crops (or a lower --min-count)")

    def framed(m: float, how: str = "none", below: float | None = None) -> ModelSpec:
        return spec.replace(framing={"margin": m, "spans": spans, "pad": how, "reread_below": below})

    candidates = reframe.MARGINS if margin is None else (margin,)
    say(f"reading the validation crops with margins {', '.join(f'{m:g}' for m in candidates)} and without")
    read_val = _reader(model, *_validation(val), threads)
    val_scores = {None: read_val(spec.replace(framing={}))}
    val_scores.update({m: read_val(framed(m)) for m in candidates})
    harmless = [m for m in candidates if val_scores[m] >= val_scores[None]]
    if not harmless:
        harmless = [max(candidates, key=lambda m: (val_scores[m], m))]
    loose_scores: dict = {}
    read_loose: Reader | None = None
    if synth_layout:
        say(f"reading {synth_plates} synthetic {synth_layout} plates cut at {len(LOOSE_CUTS)} margins")
        read_loose = _reader(model, *loose_crops(synth_layout, synth_plates), threads)
        loose_scores = {m: read_loose(spec.replace(framing={}) if m is None else framed(m)) for m in [None, *harmless]}
        best = max(harmless, key=lambda m: (loose_scores[m], m))
    else:
        best = max(harmless, key=lambda m: (val_scores[m], m))

    # then how to extend crops tighter than training, at that margin: the same two steps
    pads = reframe.PADS if pad is None else tuple(dict.fromkeys(("none", pad)))
    if len(pads) > 1:
        say(f"reading the validation crops with tight crops extended: {', '.join(pads[1:])}")
    pad_val = {"none": val_scores[best], **{p: read_val(framed(best, p)) for p in pads[1:]}}
    pads_ok = [p for p in pads if pad_val[p] >= pad_val["none"]] if pad is None else [pad]
    preference = {p: -i for i, p in enumerate(reframe.PADS)}  # ties: none, then replicate
    pad_loose: dict = {}
    if read_loose is not None and len(pads_ok) > 1:
        pad_loose = {p: loose_scores[best] if p == "none" else read_loose(framed(best, p)) for p in pads_ok}
        chosen_pad = max(pads_ok, key=lambda p: (pad_loose[p], preference[p]))
    else:
        chosen_pad = max(pads_ok, key=lambda p: (pad_val[p], preference[p]))

    # last, which first readings are sure enough to keep: the lowest gate that loses nothing on either set
    gate_val: dict = {"off": pad_val[chosen_pad]}
    gate_loose: dict = {}
    if reread_below is None:
        if read_loose is not None:  # every crop re-read, at the chosen margin and pad: read already if compared
            known = {"none": loose_scores[best], **pad_loose}
            gate_loose["off"] = known[chosen_pad] if chosen_pad in known else read_loose(framed(best, chosen_pad))
        say(f"reading the validation crops re-reading only first readings less sure than "
            f"{', '.join(f'{g:g}' for g in reframe.GATES)}")
        chosen_gate = None
        for gate in reframe.GATES:
            gate_val[gate] = read_val(framed(best, chosen_pad, gate))
            if gate_val[gate] < gate_val["off"]:
                continue
            if read_loose is not None:
                gate_loose[gate] = read_loose(framed(best, chosen_pad, gate))
                if gate_loose[gate] < gate_loose["off"]:
                    continue
            chosen_gate = gate
            break
    else:
        chosen_gate = None if reread_below == "off" else float(reread_below)
    framing = {"margin": best, "spans": spans, "pad": chosen_pad}
    if chosen_gate is not None:
        framing["reread_below"] = chosen_gate
    return FramingFit(framing, len(right), val_scores, loose_scores, pad_val, pad_loose, gate_val, gate_loose)


def _validation(val: Sequence[Sample]) -> tuple[list[np.ndarray], list[Sample]]:
    images, kept, _ = load_images(val)
    if not kept:
        raise DatasetError("no readable validation crops to choose the margin on")
    return images, kept


def loose_crops(layout: str, n: int) -> tuple[list[np.ndarray], list[Sample]]:
    """Held-out synthetic plates, each cut at every margin of ``LOOSE_CUTS`` (the same number of crops per
    margin, so the share read right over all of them is the mean over the margins)."""
    from ..synth.world import plates_in_context

    crops, samples = [], []
    for i, (image, (x0, y0, x1, y1), text) in enumerate(plates_in_context(layout, n, LOOSE_SEED)):
        box = (int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)))
        crops += [crop_at_margin(image, box, cut) for cut in LOOSE_CUTS]
        samples += [Sample(Path(f"synthetic-{i}"), text)] * len(LOOSE_CUTS)
    return crops, samples


def _reader(model: str | os.PathLike, images: list[np.ndarray], samples: list[Sample], threads: int) -> Reader:
    """Share of ``images`` read right by ``model`` under a given spec (its framing, for reframing). Every
    share is a count over the same crops, so equal counts compare equal: ties are real ties."""
    from ..evaluation.harness import evaluate_images
    from ..runtime.recognizer import Recognizer

    def read(spec: ModelSpec) -> float:
        with Recognizer(model, "onnxruntime", spec=spec, threads=threads, cross_check=False) as rec:
            return evaluate_images(rec, images, samples).accuracy.perfect_match
    return read


def frame_model(model: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike, *,
                relabel: str | os.PathLike | None = None, spec: ModelSpec | None = None, preset: str | None = None,
                **fit: object) -> FramingFit:
    """Fit the framing of an ONNX ``model`` on the labelled folder ``data`` (its training side for the
    spans, its validation side for the choices; ``relabel`` corrections applied) and write a copy of
    the model with it in its spec to ``out``, atomically. ``fit``: :func:`fit_framing`'s options."""
    from ..atomic import write_bytes
    from ..bundled import resolve_model
    from ..datasets import load_split
    from ..errors import InputError
    from ..formats.onnx_spec import embed_spec, load_onnx, resolve_spec

    path = resolve_model(model)
    if path.suffix != ".onnx":
        raise InputError(f"{path} is not an ONNX model; fit the framing on the .onnx and build the engine from it")
    onnx_model = load_onnx(path)
    model_spec = resolve_spec(onnx_model, spec=spec, preset_name=preset, source=str(path))
    train, _ = load_split(data, "train", relabel=relabel)
    val, _ = load_split(data, "val", relabel=relabel)
    result = fit_framing(path, model_spec, train, val, **fit)
    write_bytes(out, embed_spec(onnx_model, model_spec.replace(framing=result.framing)).SerializeToString())
    return result
