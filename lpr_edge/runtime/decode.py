"""Greedy (best-path) CTC decoding, vectorised over the whole batch.

Best path: take the most likely class at every time step, merge runs of the same class, drop
blanks. A blank between two equal symbols keeps both ("A, blank, A" -> "AA"), as in TAO and
DeepStream. Each character's confidence is the max probability at the first step of its run
(DeepStream's choice). The plate confidence is, where the model's per-step class probabilities
are at hand (logits models, and TAO-style models whose backend exposes the softmax behind their
Max head), the **CTC posterior** of the reading: its probability summed over every alignment of
the text to the steps, so a character the best path drops or adds at an uncertain step lowers it
(``benchmarks/README.md``, "Posterior confidence"); otherwise the product of the character
confidences (DeepStream's). Both are 0.0 for an empty reading, so a threshold never passes one.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..errors import SpecError
from ..spec import ModelSpec

# slots: a quarter cheaper to create, and results are made per plate (dataclass slots need 3.10+).
_SLOTS = {"slots": True} if sys.version_info >= (3, 10) else {}


@dataclass(frozen=True, **_SLOTS)
class PlateResult:
    """One plate reading: the text, its confidence and one confidence per character."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": self.confidence, "char_confidences": list(self.char_confidences)}


EMPTY = PlateResult("", 0.0, ())


@functools.lru_cache(maxsize=32)
def _symbol_table(charset: str, blank: int, num_classes: int) -> np.ndarray:
    if num_classes != len(charset) + 1:
        raise SpecError(f"model has {num_classes} classes but charset has {len(charset)} symbols + blank; "
                         "fix the spec's charset")
    if not 0 <= blank < num_classes:
        raise SpecError(f"blank index {blank} is outside 0..{num_classes - 1}")
    symbols = list(charset)
    symbols.insert(blank, "")
    return np.array(symbols, dtype=object)


def max_softmax(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Argmax and max softmax probability over the last axis, without forming the softmax."""
    logits = np.asarray(logits, dtype=np.float32)
    idx = logits.argmax(axis=-1)
    peak = np.take_along_axis(logits, idx[..., None], axis=-1)
    # max softmax = exp(0) / sum(exp(l - max)); one temporary, exponentiated in place
    shifted = logits - peak
    np.exp(shifted, out=shifted)
    return idx, 1.0 / shifted.sum(axis=-1)


def _best_path(indices: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the steps that start a new non-blank run, plates in order, steps in order."""
    prev = np.empty_like(indices)
    prev[:, 0] = -1
    prev[:, 1:] = indices[:, :-1]
    return np.nonzero((indices != blank) & (indices != prev))


def _check_indices(indices: np.ndarray, charset: str, blank: int, num_classes: int) -> np.ndarray:
    table = _symbol_table(charset, blank, num_classes)
    if indices.size and (indices.min() < 0 or indices.max() >= len(table)):
        raise SpecError(f"class index out of range 0..{len(table) - 1} in model output; wrong charset for this model?")
    return table


def _results(n: int, rows: np.ndarray, symbols: list[str], kept_scores: np.ndarray,
             min_length: int) -> list[PlateResult]:
    """PlateResults from the kept steps: texts, per-character scores, plate confidence = product."""
    counts = np.bincount(rows, minlength=n)
    log_conf = np.bincount(rows, weights=np.log(np.maximum(kept_scores, 1e-30), dtype=np.float64), minlength=n)
    conf = np.where(counts > 0, np.exp(log_conf), 0.0).tolist()
    # Every symbol is one character, so one joined string sliced per plate gives all texts.
    text = "".join(symbols)
    char_conf = kept_scores.tolist()
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    results = []
    for i in range(n):  # only string assembly per plate; all per-step work is vectorised
        a, b = bounds[i], bounds[i + 1]
        if b - a < max(min_length, 1):
            results.append(EMPTY)
        else:
            results.append(PlateResult(text[a:b], conf[i], tuple(char_conf[a:b])))
    return results


RESCALE_EVERY = 6  # steps between rescalings of the forward variables: (1/C)^6 >= 1e-12 for C <= 100


def char_product(result: PlateResult) -> float:
    """The product of a reading's character confidences (DeepStream's plate confidence; 0 if empty)."""
    return float(np.prod(result.char_confidences)) if result.char_confidences else 0.0


def ctc_posterior(probs: np.ndarray, labels: Sequence[Sequence[int]], blank: int) -> np.ndarray:
    """P(label | steps) per plate, summed over every CTC alignment: ``probs`` [N, T, C] per-step class
    probabilities, ``labels`` the class indices of each plate's text; 0 for an empty label.

    The forward algorithm over the label with blanks between and around its symbols, vectorised over
    the batch, in probabilities rescaled every ``RESCALE_EVERY`` steps. Every operation is per element
    (or a max), and states past a plate's own label hold exactly 0, so a plate's posterior does not depend
    on the plates beside it, to the last bit (a server's merged batches give a client the same numbers).
    """
    probs = np.asarray(probs, np.float64)
    n, steps = probs.shape[:2]
    lengths = np.fromiter((len(label) for label in labels), np.int64, n)
    if n == 0 or not lengths.any():
        return np.zeros(n)
    width = 2 * int(lengths.max()) + 1
    ext = np.full((n, width), blank, np.int64)        # blank, c1, blank, c2, ..., blank
    for i, label in enumerate(labels):
        ext[i, 1:2 * len(label):2] = label
    plates = np.arange(n)
    emit = probs[plates[:, None, None], np.arange(steps)[None, :, None], ext[:, None, :]]  # [N, T, W]
    emit *= (np.arange(width)[None, :] <= 2 * lengths[:, None])[:, None, :]
    # a step may skip the blank between two symbols only where they differ
    skip = np.zeros((n, width))
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    # alpha behind two zero states, so a step is sums of shifted views into a second buffer (no allocation)
    alpha, nxt, tmp = np.zeros((n, width + 2)), np.zeros((n, width + 2)), np.empty((n, width))
    alpha[:, 2:4] = emit[:, 0, :2]
    log_scale = np.zeros(n)
    for t in range(1, steps):
        np.multiply(skip, alpha[:, :-2], out=tmp)
        tmp += alpha[:, 1:-1]
        tmp += alpha[:, 2:]
        np.multiply(tmp, emit[:, t], out=nxt[:, 2:])
        alpha, nxt = nxt, alpha
        if t % RESCALE_EVERY == 0 or t == steps - 1:
            # a greedy reading's own best path keeps the total above (1/C)^t: rescaling every few
            # steps is enough to stay far from underflow, and cheaper than every step
            top = alpha.max(axis=1)
            top[top == 0] = 1.0
            alpha /= top[:, None]
            log_scale += np.log(top)
    end = 2 * lengths + 2
    last = alpha[plates, end] + alpha[plates, end - 1]
    with np.errstate(divide="ignore"):
        out = np.exp(np.log(last) + log_scale)
    return np.where(lengths > 0, np.minimum(out, 1.0), 0.0)


def class_indices(texts: Sequence[str], charset: str, blank: int) -> list[list[int]]:
    """Each text as the model's class indices (the blank's index skipped), what ``ctc_posterior`` takes."""
    index = {c: i + (i >= blank) for i, c in enumerate(charset)}
    return [[index[c] for c in t] for t in texts]


def with_posterior(results: list[PlateResult], probs: np.ndarray, charset: str, blank: int) -> list[PlateResult]:
    """``results`` with each plate confidence replaced by its CTC posterior under ``probs`` [N, T, C]."""
    labels = class_indices([r.text for r in results], charset, blank)
    posterior = ctc_posterior(probs[:len(results)], labels, blank).tolist()
    return [PlateResult(r.text, p, r.char_confidences) if r.text else r for r, p in zip(results, posterior)]


def decode_argmax(indices: np.ndarray, scores: np.ndarray, charset: str, blank: int,
                  min_length: int = 0, num_classes: int | None = None) -> list[PlateResult]:
    """Decode best-path class indices [N, T] with their scores [N, T].

    Plates shorter than ``min_length`` come back as an empty result (text "", confidence 0) so the
    list stays aligned with the input; nothing is dropped silently.
    """
    indices = np.asarray(indices)
    scores = np.asarray(scores)
    if indices.ndim != 2 or indices.shape != scores.shape:
        raise SpecError(f"indices {indices.shape} and scores {scores.shape} must both be [N, T]")
    table = _check_indices(indices, charset, blank, num_classes or len(charset) + 1)
    rows, cols = _best_path(indices, blank)
    return _results(indices.shape[0], rows, table[indices[rows, cols]].tolist(), scores[rows, cols], min_length)


def decode_logits(logits: np.ndarray, charset: str, blank: int, min_length: int = 0) -> list[PlateResult]:
    """Decode raw logits [N, T, C]; softmax is taken only at the steps that emit a character."""
    logits = np.asarray(logits)
    if logits.ndim != 3:
        raise SpecError(f"logits must be [N, T, C], got shape {logits.shape}")
    indices = logits.argmax(axis=-1)
    table = _check_indices(indices, charset, blank, logits.shape[2])
    rows, cols = _best_path(indices, blank)
    kept_idx = indices[rows, cols]
    kept = logits[rows, cols].astype(np.float32, copy=False)     # [K, C] logits of emitting steps
    kept -= kept[np.arange(kept_idx.size), kept_idx][:, None]    # fancy indexing made a copy: safe in place
    np.exp(kept, out=kept)
    # max softmax = 1 / sum(exp(l - max)); the row sums as a matrix-vector product, which is ~10x
    # faster than numpy's per-row reduction over a short axis
    kept_scores = 1.0 / (kept @ np.ones(kept.shape[1], np.float32))
    return _results(indices.shape[0], rows, table[kept_idx].tolist(), kept_scores, min_length)


def _arrays(outputs: Mapping[str, np.ndarray] | Sequence[np.ndarray], spec: ModelSpec) -> list[np.ndarray]:
    if isinstance(outputs, Mapping):
        missing = [name for name in spec.outputs if name not in outputs]
        if missing:
            raise SpecError(f"model outputs {sorted(outputs)} lack {missing} named in the spec")
        return [outputs[name] for name in spec.outputs]
    return list(outputs)


def _logits_ntc(arrays: list[np.ndarray], spec: ModelSpec) -> np.ndarray:
    logits = np.asarray(arrays[0])
    if logits.ndim == 4 and logits.shape[2] == 1:  # [N, C, 1, T] conv heads
        logits = logits[:, :, 0]
    return logits.transpose(0, 2, 1) if spec.logits_layout == "NCT" else logits


def step_classes(outputs: Mapping[str, np.ndarray] | Sequence[np.ndarray], spec: ModelSpec) -> np.ndarray:
    """The best-path class of every time step, [N, T] (where the characters are, for reframing)."""
    arrays = _arrays(outputs, spec)
    if spec.output_kind == "logits":
        return _logits_ntc(arrays, spec).argmax(axis=-1)
    return np.asarray(arrays[0])


def step_probabilities(outputs: Mapping[str, np.ndarray] | Sequence[np.ndarray], spec: ModelSpec,
                       probabilities: str | None = None) -> np.ndarray | None:
    """The per-step class probabilities [N, T, C]: the softmax of a logits model's output, or for TAO heads
    the array ``outputs`` holds under the name ``probabilities``; None where there are none."""
    arrays = _arrays(outputs, spec)
    if spec.output_kind == "logits":
        return _softmax(_logits_ntc(arrays, spec))
    if probabilities is not None and isinstance(outputs, Mapping) and probabilities in outputs:
        probs = np.asarray(outputs[probabilities])
        if probs.ndim == 3 and probs.shape[1:] == (spec.time_steps, spec.num_classes):
            return probs
    return None


def best_path(outputs: Mapping[str, np.ndarray] | Sequence[np.ndarray], spec: ModelSpec,
              min_length: int = 0) -> list[PlateResult]:
    """The best-path readings of a backend's outputs (logits NTC/NCT, or TAO ArgMax/Max heads), each plate
    confidence the product of its character confidences."""
    arrays = _arrays(outputs, spec)
    if spec.output_kind == "logits":
        return decode_logits(_logits_ntc(arrays, spec), spec.charset, spec.blank, min_length)
    return decode_argmax(arrays[0], arrays[1], spec.charset, spec.blank, min_length, num_classes=spec.num_classes)


def greedy_ctc(outputs: Mapping[str, np.ndarray] | Sequence[np.ndarray], spec: ModelSpec,
               min_length: int = 0, probabilities: str | None = None) -> list[PlateResult]:
    """Decode a backend's outputs as the spec says (logits NTC/NCT, or TAO ArgMax/Max heads).

    The plate confidence is the CTC posterior for logits, and for TAO heads where ``outputs`` also
    holds the per-step class probabilities under the name ``probabilities``; else the character product.
    """
    results = best_path(outputs, spec, min_length)
    probs = step_probabilities(outputs, spec, probabilities)
    return results if probs is None else with_posterior(results, probs, spec.charset, spec.blank)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.asarray(logits, np.float64) - np.max(logits, axis=-1, keepdims=True)
    np.exp(shifted, out=shifted)
    return shifted / shifted.sum(axis=-1, keepdims=True)
