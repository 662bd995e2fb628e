"""INT8 calibration on any machine: activation statistics with ONNX Runtime, a TensorRT-native
calibration cache, and a Q/DQ ONNX made from that same cache.

The cache is the single source of truth for INT8 scales: TensorRT 8.5/10.x read it through a
calibrator; TensorRT 11 uses the Q/DQ model made from it, and ONNX Runtime on the CPU a uint8 Q/DQ
form of the same ranges.
Statistics come from ``onnxruntime.quantization``'s calibrators (entropy with 2048 bins and 128
quantised levels, as TensorRT's EntropyCalibration2; max; percentile), not re-implemented here.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterable, Sequence

import numpy as np

from ..errors import InferenceError, InputError
from ..formats.trt_cache import ALGORITHMS, CalibrationCache, version_code
from ..runtime.preprocess import preprocess_batch
from ..spec import ModelSpec
from .onnx_prep import name_unnamed_nodes, private_copy

METHODS = tuple(ALGORITHMS)
# Ops given Q/DQ in the INT8 model. The TAO heads (Softmax/ArgMax/ReduceMax) stay float so the
# reported confidences keep full precision.
QUANTIZED_OPS = ["Conv", "Add", "MaxPool", "AveragePool", "Concat", "Gemm", "MatMul", "GlobalAveragePool"]


class _Reader:
    """onnxruntime.quantization CalibrationDataReader over preprocessed batches.

    Every batch handed out stays referenced until the reader is dropped: the calibrators list the
    graph input among the outputs, and onnxruntime 1.19 (the last for Python 3.8) returns that
    output as a view of the caller's input buffer without keeping it alive, so a freed batch
    turned the input's statistics into garbage (NaN on some machines).
    """

    def __init__(self, batches: Iterable[np.ndarray], input_name: str):
        self._it = iter(batches)
        self._name = input_name
        self._fed: list[np.ndarray] = []

    def get_next(self):
        batch = next(self._it, None)
        if batch is None:
            return None
        self._fed.append(batch)
        return {self._name: batch}

    def __iter__(self):  # newer ORT versions iterate readers
        while (item := self.get_next()) is not None:
            yield item


def _batches(images: Sequence[np.ndarray], spec: ModelSpec, batch: int, progress: bool):
    # ONNX Runtime's histogram calibrators stack per-batch results: every batch must be full size.
    batch = min(batch, len(images))
    steps = range(0, len(images) - len(images) % batch, batch)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="collecting activation statistics", unit="batch", leave=False)
    for i in steps:
        yield preprocess_batch(images[i:i + batch], spec).copy()


def collect_amax(onnx_path: str | os.PathLike, images: Sequence[np.ndarray], spec: ModelSpec, method: str = "entropy",
                 batch: int = 32, percentile: float = 99.99, progress: bool = False) -> dict[str, float]:
    """Symmetric dynamic range (amax) of every float tensor, from ONNX Runtime runs on ``images``.

    ``max``: ONNX Runtime's MinMax calibrator. ``percentile``: its Percentile calibrator.
    ``entropy``: its histogram collector (2048 bins of |x|, grown as ranges widen) with TensorRT's
    EntropyCalibration2 threshold search on top (:func:`entropy_amax`); ONNX Runtime's own entropy
    search works on two-sided histograms and, on post-ReLU tensors, settles on 1/16 of the range.
    """
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    if method not in METHODS:
        raise InputError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")
    if not images:
        raise InputError("no calibration images; pass a folder of plate crops with --data")
    options = {
        "entropy": (CalibrationMethod.Percentile, {"symmetric": True, "num_bins": 2048}),
        "max": (CalibrationMethod.MinMax, {"symmetric": True}),
        "percentile": (CalibrationMethod.Percentile, {"symmetric": True, "num_bins": 2048, "percentile": percentile}),
    }[method]
    # ONNX Runtime prints its progress to stdout; keep stdout clean for --json.
    with private_copy(onnx_path) as local, contextlib.redirect_stdout(sys.stderr):
        calibrator = create_calibrator(local, None, augmented_model_path=str(local.with_name("augmented.onnx")),
                                       calibrate_method=options[0], extra_options=options[1])
        if hasattr(calibrator, "num_bins"):  # a histogram calibrator: check each tensor before numpy bins it
            calibrator.collector = _checked_collector(calibrator)
        reader = _Reader(_batches(images, spec, batch, progress), spec.input_name)
        calibrator.collect_data(reader)
        if method == "entropy":
            amax = {name: entropy_amax(h[0], h[1]) for name, h in calibrator.collector.histogram_dict.items()}
        else:
            amax = {name: float(max(abs(float(np.asarray(d.range_value[0]).max())),
                                    abs(float(np.asarray(d.range_value[1]).max()))))
                    for name, d in calibrator.compute_data().data.items()}
    for name, value in amax.items():
        if not np.isfinite(value):
            raise _non_finite(name, "its range")
    # Graph order, so the same data always writes the same cache file.
    order = [i.name for i in calibrator.model.graph.input] + [o for n in calibrator.model.graph.node for o in n.output]
    return {name: amax[name] for name in dict.fromkeys(order) if name in amax}


def _non_finite(tensor: str, what: str) -> InferenceError:
    # The inputs are finite images: a NaN/inf activation means the model overflows or ONNX Runtime
    # computed it wrongly on this machine. Said here, instead of numpy failing inside the histogram code.
    import onnxruntime

    return InferenceError(f"ONNX Runtime {onnxruntime.__version__} returned NaN or infinite values for tensor "
                          f"{tensor!r} ({what}) while collecting calibration statistics; check that the FP32 model "
                          "reads plates (lpr-edge bench MODEL), or calibrate on another machine or onnxruntime "
                          "version and reuse its cache with --from-cache")


def _checked_collector(calibrator):
    """ONNX Runtime's HistogramCollector, configured as ``calibrator`` would make it, refusing NaN/inf."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    class CheckedCollector(HistogramCollector):
        def collect(self, name_to_arr):
            for name, arrays in name_to_arr.items():
                bad = sum(int(np.count_nonzero(~np.isfinite(a))) for a in arrays)
                if bad:
                    raise _non_finite(name, f"{bad} values")
            return super().collect(name_to_arr)

    return CheckedCollector(method=calibrator.method, symmetric=calibrator.symmetric, num_bins=calibrator.num_bins,
                            num_quantized_bins=calibrator.num_quantized_bins, percentile=calibrator.percentile,
                            scenario=calibrator.scenario)


def entropy_amax(hist: np.ndarray, edges: np.ndarray, levels: int = 128, start: int = 128) -> float:
    """TensorRT-style KL threshold on a histogram of |x| (GTC 2017 S7310; pytorch-quantization).

    The first bin is set to the second's count first (the zero spike of ReLU outputs would
    otherwise dominate). For each cut i >= ``start``: P = the first i bins with everything beyond folded into bin i-1,
    Q = those i bins merged into ``levels`` levels and spread back over their non-empty bins;
    choose the i with the smallest KL(P||Q) (the last one on ties); amax = the edge of bin i.
    """
    bins = np.array(hist, np.float64)
    if bins.size > 1:
        bins[0] = bins[1]  # as pytorch-quantization does: the ReLU zero spike must not steer the search
    n = bins.size
    if n <= start or bins.sum() == 0:
        return float(edges[-1])
    cum_tail = np.concatenate([np.cumsum(bins[::-1])[::-1], [0.0]])  # cum_tail[i] = sum(bins[i:])
    best_kl, best_i = np.inf, n
    for i in range(start, n + 1):
        p = bins[:i].copy()
        p[i - 1] += cum_tail[i]
        nonzero = bins[:i] > 0
        level = np.arange(i) * levels // i
        mass = np.bincount(level, weights=bins[:i], minlength=levels)
        used = np.bincount(level, weights=nonzero, minlength=levels)
        q = np.where(nonzero, mass[level] / np.maximum(used[level], 1), 0.0)
        p_sum, q_sum = p.sum(), q.sum()
        if q_sum == 0:
            continue
        p, q = p / p_sum, q / q_sum
        mask = p > 0
        kl = np.inf if np.any(q[mask] == 0) else float(np.sum(p[mask] * np.log(p[mask] / q[mask])))
        if kl <= best_kl:
            best_kl, best_i = kl, i
    return float(edges[best_i])


def make_cache(amax: dict[str, float], trt_version: str, method: str) -> CalibrationCache:
    """TensorRT cache of ``amax`` (scale = amax / 127) with the header for ``trt_version``."""
    return CalibrationCache({k: v / 127.0 for k, v in amax.items()}, version_code(trt_version), ALGORITHMS[method])


KEEP_FLOAT = ("first", "last")


def float_kept_tensors(model, keep: Sequence[str]) -> set[str]:
    """Activation tensors to leave out of the cache so their consumers stay in FP16/FP32.

    ``first``: the input of the first convolution (the stem, which sees raw pixels); ``last``: the
    input of the last convolution (the classifier); nodes are in ONNX's topological order. TensorRT
    runs a layer whose input has no scale in higher precision, and :func:`make_qdq_model` puts no
    Q/DQ there: one cache, one policy, every version.
    Any other entry is taken as a node name whose activation inputs are kept (unnamed nodes are
    ``<op>_<index>``, as :func:`name_unnamed_nodes` names them in place).
    """
    name_unnamed_nodes(model)
    unknown = set(keep) - set(KEEP_FLOAT) - {n.name for n in model.graph.node}
    if unknown:
        raise InputError(f"--keep-float: {sorted(unknown)} are neither {'/'.join(KEEP_FLOAT)} nor node names of "
                         "this model")
    inits = {i.name for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    chosen = [n for n in model.graph.node if n.name in keep]
    if "first" in keep and convs:
        chosen.append(convs[0])
    if "last" in keep and convs:
        chosen.append(convs[-1])
    return {t for n in chosen for t in n.input if t and t not in inits}


def drop_scales(cache: CalibrationCache, tensors: set[str]) -> CalibrationCache:
    return CalibrationCache({k: v for k, v in cache.scales.items() if k not in tensors},
                            cache.version_code, cache.algorithm)


def float_tensor_names(model) -> set[str]:
    """Graph inputs and node outputs (the names TensorRT's parser keeps)."""
    names = {i.name for i in model.graph.input}
    for node in model.graph.node:
        names.update(o for o in node.output if o)
    return names


def calibration_cache(onnx_path: str | os.PathLike, images: Sequence[np.ndarray], spec: ModelSpec, *,
                      method: str = "entropy", trt_version: str | None = None,
                      keep_float: Sequence[str] = KEEP_FLOAT, progress: bool = False) -> CalibrationCache:
    """The calibration pipeline ``lpr-edge calibrate`` and ``lpr-edge build --calib-data`` share:
    ONNX Runtime statistics -> amax per tensor -> TensorRT cache, minus the layers kept float."""
    from ..formats.onnx_spec import load_onnx

    amax = collect_amax(onnx_path, images, spec, method, progress=progress)
    cache = make_cache(amax, trt_version or default_trt_version(), method)
    return drop_scales(cache, float_kept_tensors(load_onnx(onnx_path), list(keep_float)))


def default_trt_version() -> str:
    """The installed TensorRT's version, else 10.3 (JetPack 6)."""
    try:
        import tensorrt as trt

        return trt.__version__
    except Exception:
        return "10.3.0"
