"""``Recognizer``: plate crops in, plate strings with confidences out.

The data path of one batch, top to bottom: crops -> preprocess (into the backend's input buffer)
-> backend.infer(n) -> greedy CTC decode -> PlateResult, its confidence the reading's CTC posterior
where the class probabilities are at hand (-> loose crops cut around their characters and read
again, if the model carries a framing -> the plate format's look-alike swaps, if given) -> unless
the backend gave a TAO-style model's probabilities, the same path once more on each crop padded a
little, and the character product averaged over both readings (cross-check; where the views differ,
the crop's own reading is kept, or the more confident one if the model's framing says ``keep:
confident``). Where the backend has room for twice the chunk, the crops and their padded views go
through the path together: one pass for both views and one for those read again, instead of two
each (the same readings; a server sees half the requests).
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Collection, Sequence

import numpy as np

from ..bundled import resolve_model
from ..errors import ClosedError, CropError, InputError
from ..formats.triton_wire import is_url
from ..spec import ModelSpec
from . import cross_check
from . import reframe as reframing
from .backends import open_backend
from .decode import PlateResult, greedy_ctc, step_classes
from .plate_format import PlateFormat
from .preprocess import preprocess_batch


class Recognizer:
    """Reads licence plates from cropped images.

    ``Recognizer()`` loads the bundled US model on ONNX Runtime; ``Recognizer("br")`` the bundled
    Brazilian one (``lpr_edge.bundled``). Pass an ``.onnx`` model or a
    TensorRT ``.engine`` (with its manifest) as ``model_path``, or a model on a Triton server
    (``grpc://HOST:PORT/NAME``, ``http://HOST:PORT/NAME``; ``timeout`` seconds per request);
    ``backend`` is ``auto``, ``onnxruntime``, ``tensorrt`` or ``triton``. Calls are safe from
    several threads: one batch runs at a time on the shared buffers (for parallel requests to a
    server, give each thread its own Recognizer). Use as a context manager or call :meth:`close`.
    ``plate_format`` (``"br"`` or patterns such as ``"LLL9999|LLL9L99"``; ``lpr_edge.runtime.plate_format``)
    swaps letter/digit look-alikes in readings that misfit the region's format. ``reframe``: crops
    looser than the model's training crops are cut around the characters of their first reading and
    read again (``lpr_edge.runtime.reframe``; only for models whose spec carries a framing, as the
    bundled ones do; ``False`` keeps every first reading). The confidence is the reading's CTC
    posterior (``lpr_edge.runtime.decode``) for logits models and where the backend gives a TAO-style
    model's per-step class probabilities (the bundled models on ONNX Runtime, engines ``lpr-edge build``
    made, ``lpr-edge serve``; ``probabilities`` names them), else the product of the character
    confidences. ``cross_check``: each crop is read again padded a little and the character product
    is averaged over both readings, a differing one counting 0
    (``lpr_edge.runtime.cross_check``; about twice the compute per crop). ``None`` (default): on,
    except where the backend gives a TAO-style model's probabilities (the bundled models), whose
    posterior ranks better alone at half the compute; on again there if the model's framing says
    ``keep: confident`` (the padded view may then give the reading). A logits model's own confidence
    is the posterior too, but the cross-check lifts it further (LPRNet_Pytorch: ``benchmarks/README.md``).
    """

    def __init__(self, model_path: str | os.PathLike | None = None, backend: str = "auto", *,
                 spec: ModelSpec | None = None, preset: str | None = None, max_batch: int = 32,
                 threads: int = 0, min_length: int = 0, timeout: float = 30.0,
                 plate_format: str | PlateFormat | None = None, reframe: bool = True,
                 cross_check: bool | None = None):
        if not isinstance(max_batch, int) or max_batch < 1:
            raise InputError(f"max_batch must be a positive integer, got {max_batch!r}")
        if not isinstance(plate_format, (str, PlateFormat, type(None))):
            raise InputError(f"plate_format must be a format name or patterns such as 'LLL9999', got {plate_format!r}")
        self.plate_format = PlateFormat.parse(plate_format) if isinstance(plate_format, str) else plate_format
        self.model_path: Path | str = model_path if is_url(model_path) else resolve_model(model_path)
        # room for a chunk and its padded views in one pass, where the backend allows it (_read, with_views)
        rows = max_batch if cross_check is False else 2 * max_batch
        self._backend = open_backend(self.model_path, backend, spec=spec, preset=preset,
                                     max_batch=rows, threads=threads, timeout=timeout)
        self.spec: ModelSpec = self._backend.spec
        self.backend_name: str = self._backend.name
        self.precision: str = self._backend.precision
        self.max_batch: int = min(max_batch, self._backend.max_batch)
        self.min_length = min_length
        self.reframe: bool = bool(reframe and self.spec.framing)
        # the softmax behind a TAO-style model's heads, where the backend gives it (the CTC posterior)
        self.probabilities: str | None = getattr(self._backend, "probabilities", None)
        keeps_surer = self.spec.framing.get("keep") == "confident"  # the padded view may give the reading
        auto = self.probabilities is None or keeps_surer
        self.cross_check: bool = auto if cross_check is None else bool(cross_check)
        # which reading the cross-check keeps where the two views differ (the model's framing says)
        self.cross_check_keep: str = self.spec.framing.get("keep", "own")
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
        if isinstance(crops, np.ndarray) and crops.ndim == 4:
            crops = list(crops)
        if not isinstance(crops, (list, tuple)):
            raise InputError(f"recognize_batch takes a list of crops, not {type(crops).__name__}")
        results: list[PlateResult] = []
        for start in range(0, len(crops), self.max_batch):
            results += self._run_chunk(crops[start:start + self.max_batch], start)
        return results

    def _run_chunk(self, chunk: Sequence[np.ndarray], offset: int) -> list[PlateResult]:
        with self._lock:
            if self._closed:
                raise ClosedError("this Recognizer is closed; create a new one")
            keep = self.cross_check_keep
            n = len(chunk)
            if self.cross_check and keep == "own" and 2 * n <= self._backend.max_batch:
                # both views in the same passes: half the requests to a server, the same readings
                views, timings, _ = self._read(chunk, offset, with_views=True)
                t0 = time.perf_counter()
                results = cross_check.combine(views[:n], views[n:], keep)
                timings["cross_check"] += (time.perf_counter() - t0) * 1e3
            else:
                results, timings, reframed = self._read(chunk, offset)
                if self.cross_check:
                    t0 = time.perf_counter()
                    # a padded view is looser than its crop: as a check it is read again only where the
                    # crop itself was; where its reading may be kept, it is read as any crop
                    padded, _, _ = self._read([cross_check.padded_view(c) for c in chunk], offset,
                                              None if keep == "confident" else set(reframed))
                    results = cross_check.combine(results, padded, keep)
                    timings["cross_check"] = (time.perf_counter() - t0) * 1e3
            self.last_timings = timings
            return results

    def _read(self, chunk: Sequence[np.ndarray], offset: int, reframe_only: Collection[int] | None = None,
              with_views: bool = False) -> tuple[list[PlateResult], dict[str, float], list[int]]:
        """One view of a chunk: preprocess, infer, decode, reframing (of the crops in ``reframe_only``,
        if given) and the plate format; with timings and the positions of the crops read again. With
        ``with_views``, the crops' padded views go along in the same passes (results for the crops, then
        for their views; a view is read again only where its crop is)."""
        n = len(chunk)
        t0 = time.perf_counter()
        try:  # the crops first: a bad one is refused before a view is made of it
            preprocess_batch(chunk, self.spec, out=self._backend.input)
        except CropError as exc:
            raise exc.shifted(offset) from None
        views, made = list(chunk), 0.0
        if with_views:
            t_views = time.perf_counter()
            views += [cross_check.padded_view(c) for c in chunk]
            made = time.perf_counter() - t_views
            preprocess_batch(views[n:], self.spec, out=self._backend.input[n:])
        t1 = time.perf_counter()
        outputs = self._backend.infer(len(views))
        t2 = time.perf_counter()
        backend_timings = dict(self._backend.timings)  # the first pass's; a second one would overwrite them
        results = greedy_ctc(outputs, self.spec, self.min_length, self.probabilities)
        t3 = time.perf_counter()
        reframed: list[int] = []
        if self.reframe:
            results, reframed = self._read_loose_again(views, outputs, results, reframe_only,
                                                       views_from=n if with_views else 0)
        t4 = time.perf_counter()
        if self.plate_format is not None:
            results = self.plate_format.fit_all(results)
        t5 = time.perf_counter()
        timings = {"preprocess": (t1 - t0 - made) * 1e3, **backend_timings, "backend": (t2 - t1) * 1e3,
                   "decode": (t3 - t2 + t5 - t4) * 1e3}
        if with_views:
            timings["cross_check"] = made * 1e3
        if self.reframe:
            timings["reframe"] = (t4 - t3) * 1e3
        return results, timings, reframed

    def _read_loose_again(self, chunk: Sequence[np.ndarray], outputs, results: list[PlateResult],
                          only: Collection[int] | None = None, views_from: int = 0
                          ) -> tuple[list[PlateResult], list[int]]:
        """Second readings of the crops the framing cuts tighter (or extends), of those in ``only`` if
        given; the others keep their first. With ``views_from`` n, rows from n on are the padded views of
        rows 0..n-1 and are read again only where their crop is. Also returns where the second readings
        went."""
        # windows are taken before the second infer(), which may overwrite the first outputs' buffers
        cuts = reframing.windows([c.shape for c in chunk], step_classes(outputs, self.spec)[:len(chunk)], results,
                                 self.spec.framing, self.spec.blank)
        again = [i for i, window in enumerate(cuts) if window is not None and (only is None or i in only)]
        if views_from:
            crops = {i for i in again if i < views_from}
            again = [i for i in again if i < views_from or i - views_from in crops]
        if not again:
            return results, again
        pad = self.spec.framing["pad"]
        preprocess_batch([reframing.cut(chunk[i], cuts[i], pad) for i in again], self.spec, out=self._backend.input)
        second = greedy_ctc(self._backend.infer(len(again)), self.spec, self.min_length, self.probabilities)
        results = list(results)
        for i, result in zip(again, second):
            results[i] = result
        return results, again

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
