"""The plain per-plate, per-step Python greedy CTC decoder: slow and obviously right.

The yardstick the vectorised decoder (``lpr_edge.runtime.decode``) is tested (``tests/runtime/test_decode.py``)
and benchmarked (``benchmarks/decode_bench.py``) against.
"""
from __future__ import annotations

import numpy as np

from lpr_edge.runtime.decode import EMPTY, PlateResult


def decode_reference(logits: np.ndarray, charset: str, blank: int) -> list[PlateResult]:
    """Greedy CTC decoding of ``logits`` [N, T, C], one plate and one step at a time."""
    symbols = list(charset)
    symbols.insert(blank, "")
    results = []
    for plate in np.asarray(logits, dtype=np.float64):
        text, confs, prev = [], [], -1
        for step in plate:
            k = int(np.argmax(step))
            e = np.exp(step - step[k])
            if k != blank and k != prev:
                text.append(symbols[k])
                confs.append(1.0 / e.sum())
            prev = k
        conf = float(np.prod(confs)) if confs else 0.0
        results.append(PlateResult("".join(text), conf, tuple(confs)) if text else EMPTY)
    return results
