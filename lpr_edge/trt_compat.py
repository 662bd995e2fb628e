"""Every TensorRT-version difference lpr-edge cares about, in one place.

Feature detection, not version strings (see shared reference, section 2.1):
- TensorRT 8.5 / 10.x: precision builder flags (FP16/INT8) and IInt8EntropyCalibrator2 exist;
  8.x needs the EXPLICIT_BATCH network flag for ONNX, 10.x ignores it.
- TensorRT 11.x: no precision flags, no calibrators, no EXPLICIT_BATCH; every network is strongly
  typed, so precision comes from the ONNX itself (FP16-converted ONNX, Q/DQ ONNX for INT8).
The runtime API (named tensors, ``set_tensor_address``, ``execute_async_v3``) is the same on all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ModelFileError


@dataclass(frozen=True)
class TrtFeatures:
    """What the imported TensorRT offers."""

    version: str
    precision_flags: bool      # BuilderFlag.FP16 / INT8 (8.x, 10.x)
    calibrators: bool          # IInt8EntropyCalibrator2 & config.int8_calibrator (8.x, 10.x)
    explicit_batch_flag: bool  # NetworkDefinitionCreationFlag.EXPLICIT_BATCH still defined
    calibration_profile: bool  # config.set_calibration_profile (8.x, 10.x)

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def implicit_int8(self) -> bool:
        """INT8 through builder flag + calibrator reading our cache (TensorRT 8.5 / 10.x)."""
        return self.precision_flags and self.calibrators


def features(trt: Any) -> TrtFeatures:
    flags = getattr(trt, "BuilderFlag", None)
    return TrtFeatures(
        version=str(getattr(trt, "__version__", "0")),
        precision_flags=flags is not None and hasattr(flags, "FP16") and hasattr(flags, "INT8"),
        calibrators=hasattr(trt, "IInt8EntropyCalibrator2"),
        explicit_batch_flag=hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"),
        calibration_profile=hasattr(trt.IBuilderConfig, "set_calibration_profile"),
    )


# TensorRT DataType -> NumPy. Not trt.nptype(): TensorRT 8.5.1 and 8.5.2 (JetPack 5.1) map BOOL to
# np.bool, which NumPy 1.24 removed (NVIDIA/TensorRT#2557; 8.5.3 uses np.bool_), so it raises there.
_NUMPY_DTYPES = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "INT64": np.int64,
                 "BOOL": np.bool_, "UINT8": np.uint8}


def numpy_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype of a TensorRT ``DataType`` member (works on every TensorRT version)."""
    name = getattr(dtype, "name", str(dtype)).rsplit(".", 1)[-1]
    if name not in _NUMPY_DTYPES:
        raise ModelFileError(f"engine tensor type {name} is not one lpr-edge reads (float32/16, int8/32/64, bool)")
    return np.dtype(_NUMPY_DTYPES[name])


def create_network(trt: Any, builder: Any, feats: TrtFeatures):
    """An explicit-batch network: the flag on 8.x (required for ONNX), nothing on 10.x (ignored)
    and 11.x (gone; networks are strongly typed there)."""
    flags = 0
    if feats.explicit_batch_flag and feats.major < 10:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    return builder.create_network(flags)


def plan_precision(feats: TrtFeatures, precision: str) -> str:
    """How a precision is reached on this TensorRT.

    ``flags``: weakly typed network + FP16/INT8 builder flags (INT8 scales from our calibrator);
    ``fp16-onnx``: strongly typed build of an FP16-converted ONNX;
    ``qdq``: strongly typed build of the Q/DQ ONNX made from our cache;
    ``fp32``: plain build.
    """
    if precision == "fp32":
        return "fp32"
    if precision == "fp16":
        return "flags" if feats.precision_flags else "fp16-onnx"
    if precision == "int8":
        return "flags" if feats.implicit_int8 else "qdq"
    raise ValueError(f"unknown precision {precision!r}")


def set_precision_flags(trt: Any, config: Any, precision: str, calibrator: Any = None, profile: Any = None,
                        feats: TrtFeatures | None = None) -> None:
    """Builder flags for the ``flags`` plan (TensorRT 8.5 / 10.x only)."""
    config.set_flag(trt.BuilderFlag.FP16)  # INT8 builds keep FP16 for layers without scales
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
        if profile is not None and feats is not None and feats.calibration_profile:
            config.set_calibration_profile(profile)


HEAD_LAYER_TYPES = ("SOFTMAX", "REDUCE", "TOPK")  # the TAO head: Softmax, Max, ArgMax (parsed as TopK)


def pin_head_fp32(trt: Any, network: Any, config: Any) -> int:
    """The ``flags`` plan (8.5 / 10.x): the head's layers run in FP32, so with FP16 or INT8 enabled the
    probabilities, the confidences and what ArgMax sees are never rounded (TensorRT may otherwise pick a
    lower precision for them). Returns how many layers were pinned."""
    pinned = 0
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        kind = str(layer.type).rsplit(".", 1)[-1]
        if kind in HEAD_LAYER_TYPES:
            layer.precision = trt.DataType.FLOAT
            if kind != "TOPK":  # TopK's second output is its int32 indices
                layer.set_output_type(0, trt.DataType.FLOAT)
            pinned += 1
    if pinned:
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
    return pinned


# The one calibrator class lpr-edge hands TensorRT 8.5/10.x; DLA requires this one.
CALIBRATOR_ALGORITHM = "EntropyCalibration2"


def serve_cache(text: str, trt_version: str, source: str = "cache") -> tuple[bytes, str, str]:
    """Our cache re-headed for the running TensorRT and the calibrator we use.

    TensorRT uses a cache only when its header names the running version and the calibrator's
    algorithm (sampleINT8 README); otherwise it calibrates again. The scales themselves do not
    depend on either (Entropy2/MinMax caches hold per-tensor amax/127 taken before fusion), so a
    cache made by ``lpr-edge calibrate --method max`` or for TensorRT 10.3 serves 8.5 unchanged.
    Returns (bytes to serve, header served, header in the file).
    """
    from .formats.trt_cache import parse_cache, version_code

    cache = parse_cache(text, source)
    original = cache.header
    cache.version_code, cache.algorithm = version_code(trt_version), CALIBRATOR_ALGORITHM
    return cache.to_text().encode("ascii"), cache.header, original


def make_calibrator(trt: Any, cache_bytes: bytes | None, batches=None, on_write=None, batch_size: int = 1):
    """An IInt8EntropyCalibrator2 that serves our cache, or calibrates from ``batches`` when none.

    ``batches`` yields device pointers to full batches of ``batch_size`` rows (the profile's OPT:
    TensorRT calibrates at the OPT shape, and every batch must match ``get_batch_size()``);
    ``on_write(bytes)`` receives the cache TensorRT produces when it calibrated itself.
    """

    class CacheCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)  # the bindings need the explicit base call
            self._cache = cache_bytes
            self._batches = iter(batches or ())

        def get_batch_size(self):
            return batch_size

        def get_batch(self, names):
            pointer = next(self._batches, None)
            return None if pointer is None else [int(pointer)]

        def read_calibration_cache(self):
            return self._cache

        def write_calibration_cache(self, cache):
            self._cache = bytes(cache)
            if on_write is not None:
                on_write(self._cache)

    return CacheCalibrator()


def use_dla_at_runtime(runtime: Any, core: int | None) -> None:
    """Point the runtime at the engine's DLA core before deserialising (it defaults to -1)."""
    if core is not None:
        runtime.DLA_core = int(core)


def num_dla_cores(trt: Any) -> int:
    """DLA cores of this device (0 off Jetson AGX/NX), read through a builder."""
    try:
        return int(trt.Builder(trt.Logger(trt.Logger.ERROR)).num_DLA_cores)
    except Exception:
        return 0
