"""Crops in, normalised model input out, written into a caller-supplied buffer.

Rules for crops (documented in the README):
- ``numpy.ndarray`` of dtype uint8, shape HxW (grayscale), HxWx1, HxWx3 (BGR) or HxWx4 (BGRA);
  grayscale and BGRA are converted, non-contiguous views are copied.
- Rejected with :class:`~lpr_edge.errors.InputError`: None, non-arrays, other dtypes (float
  input would need a guess at its range), 2-channel or rank-4 arrays, empty or zero-sized crops,
  and crops larger than ``MAX_SIDE`` pixels on a side (pass the plate crop, not the frame).
"""
from __future__ import annotations

import concurrent.futures
import os
import threading
from typing import Sequence

import cv2
import numpy as np

from ..errors import CropError, InputError
from ..spec import ModelSpec

MAX_SIDE = 10000


def crop_problem(crop: object) -> str | None:
    """What makes ``crop`` unusable (``"is None; ..."``, naming the fix), or None for a usable one."""
    if crop is None:
        return "is None; pass a BGR uint8 image (numpy array)"
    if not isinstance(crop, np.ndarray):
        return f"is a {type(crop).__name__}, not a numpy array; decode the image first (cv2.imread)"
    if crop.dtype != np.uint8:
        return f"has dtype {crop.dtype}; pass uint8 pixels 0..255 (e.g. np.clip(x, 0, 255).astype(np.uint8))"
    if crop.ndim not in (2, 3):
        return f"has shape {crop.shape}; expected HxW or HxWxC (one image, not a batch)"
    h, w = crop.shape[:2]
    if h == 0 or w == 0:
        return f"is empty ({w}x{h} pixels); skip empty detections before recognising"
    if max(h, w) > MAX_SIDE:
        return f"is {w}x{h} pixels, over the {MAX_SIDE}px limit; pass the plate crop, not the whole frame"
    if crop.ndim == 3 and crop.shape[2] not in (1, 3, 4):
        return f"has {crop.shape[2]} channels; expected 1 (gray), 3 (BGR) or 4 (BGRA)"
    return None


def as_bgr(crop: object, index: int = 0) -> np.ndarray:
    """Check one crop and return it as a contiguous HxWx3 uint8 BGR array."""
    problem = crop_problem(crop)
    if problem is not None:
        raise CropError(index, problem)
    h, w = crop.shape[:2]
    channels = 1 if crop.ndim == 2 else crop.shape[2]
    if channels == 1:
        return cv2.cvtColor(np.ascontiguousarray(crop.reshape(h, w)), cv2.COLOR_GRAY2BGR)
    if channels == 3:
        return np.ascontiguousarray(crop)
    return cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_BGRA2BGR)


def within_limit(view: np.ndarray) -> np.ndarray:
    """A view made from a valid crop (padded, extended), shrunk if it grew past ``MAX_SIDE``: the
    limit is there to catch whole frames passed as crops, not views a little larger than a crop."""
    h, w = view.shape[:2]
    if max(h, w) <= MAX_SIDE:
        return view
    f = MAX_SIDE / max(h, w)
    return cv2.resize(view, (max(1, min(MAX_SIDE, round(w * f))), max(1, min(MAX_SIDE, round(h * f)))),
                      interpolation=cv2.INTER_AREA)


def resize(bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to the model's input size (area filter when shrinking, bilinear when enlarging)."""
    h, w = bgr.shape[:2]
    if (w, h) == (width, height):
        return bgr
    interp = cv2.INTER_AREA if (w > width and h > height) else cv2.INTER_LINEAR
    return cv2.resize(bgr, (width, height), interpolation=interp)


def _norm_params(spec: ModelSpec) -> tuple[list[int], np.ndarray, np.ndarray]:
    order = [2, 1, 0] if spec.color == "RGB" else [0, 1, 2]  # source BGR channel for each model channel
    return order, np.asarray(spec.mean, np.float32), np.asarray(spec.scale, np.float32)


def resize_batch(crops: Sequence[np.ndarray], spec: ModelSpec) -> np.ndarray:
    """Check and resize ``crops``: uint8 [n, H, W, 3] BGR pixels.

    This is the wire form a remote backend sends (13.8 kB a plate at 48x96, a quarter of the
    normalised float32 input); :func:`normalize` turns it into the model's input.
    """
    n = len(crops)
    if n == 0:
        raise InputError("no crops given; pass at least one image")
    out = np.empty((n, spec.height, spec.width, 3), np.uint8)
    pool, workers = _resize_pool() if n >= PARALLEL_FROM else (None, 1)
    if pool is None:
        _resize_into(out, crops, 0, n)
        return out
    # OpenCV's area filter costs ~1 ns per source pixel on one core (0.15 ms for a 320x156 crop) and lets go
    # of the GIL: slices of the batch go to the idle cores. Results are taken in order, so a bad crop
    # raises with the lowest index, as a serial pass would.
    bounds = np.linspace(0, n, min(n, workers) + 1).astype(int).tolist()
    jobs = [pool.submit(_resize_into, out, crops, a, b) for a, b in zip(bounds, bounds[1:])]
    for job in jobs:
        job.result()
    return out


PARALLEL_FROM = 8  # crops in a batch from which resizing is spread over the cores
_pool: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None  # (the process it was made in, pool)
_pool_lock = threading.Lock()


def _resize_pool() -> tuple[concurrent.futures.ThreadPoolExecutor | None, int]:
    """The process's pool of resize threads (one per core, at most 8) and its size; made on first use and
    again in a forked child (threads do not survive a fork); None on one core."""
    global _pool
    workers = min(8, os.cpu_count() or 1)
    if workers < 2:
        return None, 1
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="lpr-edge-resize"))
    return _pool[1], workers


def _resize_into(out: np.ndarray, crops: Sequence[np.ndarray], start: int, stop: int) -> None:
    height, width = out.shape[1:3]
    for i in range(start, stop):
        out[i] = resize(as_bgr(crops[i], i), width, height)


def normalize(pixels: np.ndarray, spec: ModelSpec, out: np.ndarray | None = None) -> np.ndarray:
    """Resized uint8 BGR pixels [n, H, W, 3] into the model's input ``out[:n]`` (float32).

    ``out`` must be a C-contiguous float32 array of shape [max_batch, *spec.input_shape]; the
    TensorRT backend passes its page-locked input buffer so no extra copy is made.
    """
    n = len(pixels)
    if out is None:
        out = np.empty((n, *spec.input_shape), np.float32)
    if out.dtype != np.float32 or out.shape[1:] != spec.input_shape or out.shape[0] < n:
        raise InputError(f"input buffer {out.shape} {out.dtype} cannot hold {n} crops of {spec.input_shape} float32")
    order, mean, scale = _norm_params(spec)
    # (x - mean) * scale straight from the uint8 pixels into the buffer, through views for the colour order
    # and the layout: no temporary the size of the batch, the same float32 arithmetic as a copy would do
    source = pixels[..., ::-1] if order == [2, 1, 0] else pixels
    view = out[:n]
    if spec.layout == "NCHW":
        source = source.transpose(0, 3, 1, 2)
        mean, scale = mean[:, None, None], scale[:, None, None]
    if mean.any():
        np.subtract(source, mean, out=view)
        view *= scale
    else:
        np.multiply(source, scale, out=view)
    return view


def into_input(pixels: np.ndarray, spec: ModelSpec, out: np.ndarray) -> np.ndarray:
    """Resized pixels into a backend's input buffer ``out[:n]``, in the form its dtype says: float32 is
    the model's normalised input; uint8 [max_batch, H, W, 3] the resized BGR pixels themselves (a
    remote backend's wire form). Returns that view: the batch to hand to ``backend.infer``."""
    if out.dtype == np.uint8:
        if out.shape[1:] != pixels.shape[1:] or len(out) < len(pixels):
            raise InputError(f"pixel buffer {out.shape} cannot hold {pixels.shape}")
        np.copyto(out[:len(pixels)], pixels)
        return out[:len(pixels)]
    return normalize(pixels, spec, out)


def preprocess_batch(crops: Sequence[np.ndarray], spec: ModelSpec, out: np.ndarray | None = None) -> np.ndarray:
    """Crops into the backend's input buffer ``out[:len(crops)]`` (the model's float32 input, allocated,
    if None) and return that view. The buffer's dtype says what the backend takes (:func:`into_input`).
    """
    pixels = resize_batch(crops, spec)
    return normalize(pixels, spec) if out is None else into_input(pixels, spec, out)
