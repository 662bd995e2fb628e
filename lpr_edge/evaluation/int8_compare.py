"""FP32 against the two INT8 forms of a model, plate by plate, with the CPU speed-up (the report of
``lpr-edge calibrate --eval-data``)."""
from __future__ import annotations

import numpy as np

from ..runtime.recognizer import Recognizer
from .bench import BenchConfig, time_batches
from .harness import ModelReading


def compare(models: dict, sample_set, spec) -> dict:
    """Accuracy of each of ``models`` (``fp32``, ``int8``, ``int8_cpu``) on ``sample_set``, plate by
    plate against FP32 (gained, lost, McNemar p), and its median batch-32 compute time on this CPU."""

    crops = [np.zeros((spec.height, spec.width, 3), np.uint8)] * 32
    out, readings = {}, {}
    for prec, path in models.items():
        # One model at a time: ONNX Runtime's idle threads spin and would slow a neighbour down.
        with Recognizer(path, spec=spec, max_batch=32, cross_check=False) as rec:
            readings[prec] = ModelReading.of(rec, sample_set)
            out[prec] = {**readings[prec].accuracy.to_dict(), "model": str(path)}
            timing = time_batches(rec, crops, BenchConfig(batches=(32,), warmup=1, iters=20))[0]
            out[prec]["batch32_ms"] = timing["compute_ms"]["p50"]
    for prec in ("int8", "int8_cpu"):
        out[prec]["paired"] = readings[prec].against(readings["fp32"]).to_dict()
    out["perfect_match_delta_pt"] = (out["int8"]["perfect_match"] - out["fp32"]["perfect_match"]) * 100
    out["cpu_perfect_match_delta_pt"] = (out["int8_cpu"]["perfect_match"] - out["fp32"]["perfect_match"]) * 100
    out["speedup"] = out["fp32"]["batch32_ms"] / out["int8_cpu"]["batch32_ms"]
    out["data"] = sample_set.name
    return out
