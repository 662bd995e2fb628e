"""``Recognizer``: plate crops in, plate strings with confidences out.

One chunk of crops, top to bottom (``_read_chunk``):

1. **pixels**: each crop checked and resized to the model's input size (``preprocess``); with the
   cross-check on, a padded view of each crop is made and resized too (``cross_check``).
2. **first pass**: the pixels normalised into the backend's input buffer, ``backend.infer``, greedy CTC
   decoding, each reading's confidence the product of its characters' (``decode``).
3. **loose crops read again**: crops whose characters sit narrower (or wider) than in the model's
   training crops are cut around them and read a second time (``reframe``; models with a framing).
4. **confidence**: each final reading's CTC posterior, where the per-step class probabilities are at hand
   (``decode``; once, for the readings kept).
5. **plate format**: letter/digit look-alikes that misfit the region's format are swapped (``plate_format``).
6. **cross-check**: each crop's reading and its padded view's are combined into one confidence
   (``cross_check``; from the character products).
"""
from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ..bundled import resolve_model
from ..errors import ClosedError, CropError, InferenceError, InputError
from ..formats.triton_wire import is_url
from ..spec import ModelSpec
from . import reframe as reframing
from .backends import open_backend
from .cross_check import combine, padded_view
from .decode import PlateResult, best_path, step_classes, step_probabilities, with_posterior
from .fusion import fuse
from .plate_format import PlateFormat
from .preprocess import into_input, resize_batch


class _Stages:
    """Milliseconds per stage of one chunk (what ``Recognizer.last_timings`` shows): ``mark(stage)`` books
    the time since the previous mark to ``stage``."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._t = time.perf_counter()

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.add(stage, (now - self._t) * 1e3)
        self._t = now

    def add(self, stage: str, ms: float) -> None:
        self.ms[stage] = self.ms.get(stage, 0.0) + ms


class Recognizer:
    """Reads licence plates from cropped images.

    ``model_path``: an ``.onnx`` model, a TensorRT ``.engine`` (with its manifest), a bundled name
    (``us``, the default, or ``br``) or a served model (``grpc://HOST:PORT/NAME``,
    ``http://HOST:PORT/NAME``; ``timeout`` seconds per request). ``backend``: ``auto``,
    ``onnxruntime``, ``tensorrt`` or ``triton``. ``plate_format``: ``"br"`` or patterns such as
    ``"LLL9999|LLL9L99"``. ``reframe``: read loose crops again (models whose spec has a framing).
    ``cross_check``: read a padded view of each crop and combine the two readings' character
    products; ``None`` turns it on where the backend gives no per-step probabilities. ``threads`` and
    ``spin`` set ONNX Runtime's intra-op threads and whether they spin while a run lasts (they stop when it
    returns, so several sessions in one process share the cores; ``False``: never). Calls are
    serialised by a lock, so one Recognizer can be shared by threads; use it as a context manager or
    call :meth:`close`. The manual: ``docs/reference/python-api.md``.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, backend: str = "auto", *,
                 spec: ModelSpec | None = None, preset: str | None = None, max_batch: int = 32,
                 threads: int = 0, min_length: int = 0, timeout: float = 30.0,
                 plate_format: str | PlateFormat | None = None, reframe: bool = True,
                 cross_check: bool | None = None, spin: bool = True):
        if not isinstance(max_batch, int) or max_batch < 1:
            raise InputError(f"max_batch must be a positive integer, got {max_batch!r}")
        if not isinstance(plate_format, (str, PlateFormat, type(None))):
            raise InputError(f"plate_format must be a format name or patterns such as 'LLL9999', got {plate_format!r}")
        self.plate_format = PlateFormat.parse(plate_format) if isinstance(plate_format, str) else plate_format
        self.model_path: Path | str = model_path if is_url(model_path) else resolve_model(model_path)
        # room for a chunk and its padded views in one pass, where the backend allows it
        rows = max_batch if cross_check is False else 2 * max_batch
        self._backend = open_backend(self.model_path, backend, spec=spec, preset=preset,
                                     max_batch=rows, threads=threads, timeout=timeout, spin=spin)
        self.spec: ModelSpec = self._backend.spec
        self.backend_name: str = self._backend.name
        self.precision: str = self._backend.precision
        self.max_batch: int = min(max_batch, self._backend.max_batch)
        self.min_length = min_length
        self.reframe: bool = bool(reframe and self.spec.framing)
        # the softmax behind a TAO-style model's heads, where the backend gives it (the CTC posterior)
        self.probabilities: str | None = getattr(self._backend, "probabilities", None)
        self.cross_check: bool = self.probabilities is None if cross_check is None else bool(cross_check)
        self.last_timings: dict[str, float] = {}
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return (f"Recognizer(model_path={str(self.model_path)!r}, backend={self.backend_name!r}, "
                f"precision={self.precision!r}, max_batch={self.max_batch})")

    def recognize(self, crop: np.ndarray) -> PlateResult:
        """Read one plate crop (BGR uint8; grayscale and BGRA are converted)."""
        return self.recognize_batch([crop])[0]

    def recognize_batch(self, crops: Sequence[np.ndarray]) -> list[PlateResult]:
        """Read any number of crops, in chunks of ``max_batch``; results keep the input order."""
        return self.read_views(crops)[0]

    def recognize_track(self, crops: Sequence[np.ndarray]) -> PlateResult:
        """One reading for several crops of the same plate (frames of one vehicle, in any order): each
        candidate text (the views' readings) is scored on every view by its CTC posterior there, the one with
        the highest geometric mean kept, its confidence the mean posterior (``lpr_edge.runtime.fusion``; a
        confidence-weighted vote where the backend gives no per-step probabilities). On one crop it is
        that crop's reading. For tracks that grow frame by frame, see
        :class:`lpr_edge.tracks.PlateTracks`."""
        readings, probs = self.read_views(crops)
        if not readings:
            raise InputError("recognize_track needs at least one crop of the plate")
        return fuse(readings, probs, self.spec.charset, self.spec.blank)

    def read_views(self, crops: Sequence[np.ndarray]) -> tuple[list[PlateResult], np.ndarray | None]:
        """The crops' readings and the per-step class probabilities [n, T, C] behind them (None where the
        backend gives none): what :func:`lpr_edge.runtime.fusion.fuse` takes."""
        if isinstance(crops, np.ndarray) and crops.ndim == 4:
            crops = list(crops)
        if not isinstance(crops, (list, tuple)):
            raise InputError(f"pass a list of crops, not {type(crops).__name__}")
        results: list[PlateResult] = []
        probs: list[np.ndarray | None] = []
        for start in range(0, len(crops), self.max_batch):
            chunk = crops[start:start + self.max_batch]
            with self._lock:
                if self._closed:
                    raise ClosedError("this Recognizer is closed; create a new one")
                try:
                    chunk_results, chunk_probs = self._read_chunk(chunk)
                except CropError as exc:
                    raise exc.shifted(start) from None
            results += chunk_results
            probs.append(chunk_probs)
        if not probs or any(p is None for p in probs):
            return results, None
        return results, probs[0] if len(probs) == 1 else np.concatenate(probs)

    def _read_chunk(self, chunk: Sequence[np.ndarray]) -> tuple[list[PlateResult], np.ndarray | None]:
        """The crops' readings, and the per-step class probabilities [n, T, C] each final reading came from
        (its second pass where a crop was read again), or None where the backend gives none."""
        stages = _Stages()
        n = len(chunk)
        pixels = resize_batch(chunk, self.spec)  # checks every crop before a view is made of it
        stages.mark("preprocess")
        views = list(chunk)
        if self.cross_check:
            views += [padded_view(crop) for crop in chunk]
            stages.mark("cross_check")
            pixels = np.concatenate([pixels, resize_batch(views[n:], self.spec)])
            stages.mark("preprocess")
        outputs = self._infer(pixels, split=n, stages=stages)
        results, probs = self._decode(outputs)
        stages.mark("decode")
        if self.reframe:
            results, probs = self._read_loose_again(views, outputs, results, probs, n)
            stages.mark("reframe")
        if probs is not None and not self.cross_check:  # the cross-check combines character products
            results = with_posterior(results, probs, self.spec.charset, self.spec.blank)
            stages.mark("decode")
        if self.plate_format is not None:
            results = self.plate_format.fit_all(results)
            stages.mark("decode")
        if self.cross_check:
            results = combine(results[:n], results[n:])
            stages.mark("cross_check")
        self.last_timings = stages.ms
        return results, None if probs is None else probs[:n]

    def _infer(self, pixels: np.ndarray, split: int, stages: _Stages | None = None) -> dict[str, np.ndarray]:
        """The backend's outputs for resized pixels: one call, or where the backend has no room for
        them all, the first ``split`` rows and then the rest (a crop's padded views after the crops)."""
        fits = len(pixels) <= self._backend.max_batch
        parts = [pixels] if fits else [pixels[:split], pixels[split:]]
        runs = []
        for part in parts:
            batch = into_input(part, self.spec, self._backend.input)
            if stages is not None:
                stages.mark("preprocess")
            runs.append(self._backend.infer(batch))
            self._check_finite(runs[-1].outputs)
            if stages is not None:
                stages.mark("backend")
                for stage, ms in runs[-1].timings.items():
                    stages.add(stage, ms)
        if len(runs) == 1:
            return runs[0].outputs
        return {name: np.concatenate([run.outputs[name] for run in runs]) for name in runs[0].outputs}

    def _check_finite(self, outputs: dict[str, np.ndarray]) -> None:
        """A NaN or infinity in the outputs would decode to a reading with a NaN confidence: refused."""
        for name, value in outputs.items():
            # one sum per output: NaN and infinity carry through it, and float64 cannot overflow on float32s
            if value.dtype.kind == "f" and not math.isfinite(np.add.reduce(value, axis=None, dtype=np.float64)):
                raise InferenceError(f"{self.model_path} gave non-finite values (NaN or infinity) in {name}: the "
                                     "model's weights or export are broken; re-export the model, or download it again")

    def _decode(self, outputs: dict[str, np.ndarray]) -> tuple[list[PlateResult], np.ndarray | None]:
        """Best-path readings (confidence: the character product) and the per-step probabilities behind
        them, where the backend gives them; the posterior comes later, for the final readings only."""
        return best_path(outputs, self.spec, self.min_length), step_probabilities(outputs, self.spec,
                                                                                 self.probabilities)

    def _read_loose_again(self, views: Sequence[np.ndarray], outputs: dict[str, np.ndarray],
                          results: list[PlateResult], probs: np.ndarray | None,
                          n: int) -> tuple[list[PlateResult], np.ndarray | None]:
        """Second readings of the views the framing cuts tighter (or extends). Views from ``n`` on are
        the padded views of views 0..n-1; one is read again only where its crop is, so that the two
        readings stay comparable."""
        cuts = reframing.windows([v.shape for v in views], step_classes(outputs, self.spec), results,
                                 self.spec.framing, self.spec.blank)
        crops = {i for i in range(n) if cuts[i] is not None}
        again = sorted(crops) + [i for i in range(n, len(views)) if cuts[i] is not None and i - n in crops]
        if not again:
            return results, probs
        pad = self.spec.framing["pad"]
        pixels = resize_batch([reframing.cut(views[i], cuts[i], pad) for i in again], self.spec)
        second, second_probs = self._decode(self._infer(pixels, split=len(crops)))
        results = list(results)
        for i, result in zip(again, second):
            results[i] = result
        if probs is not None and second_probs is not None:
            probs = probs.copy()
            probs[again] = second_probs
        return results, probs

    def close(self) -> None:
        """Release the backend; waits for a call in flight to finish. Safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._backend.close()

    def __enter__(self) -> "Recognizer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
