"""What every backend offers the Recognizer: an input buffer and ``infer(n)``."""
from __future__ import annotations

from typing import Protocol

import numpy as np

from ...spec import ModelSpec


class Backend(Protocol):
    """An opened model. Not thread-safe by itself: the Recognizer serialises calls.

    ``input`` is a float32 array [max_batch, *spec.input_shape] that preprocessing writes into
    (page-locked host memory on TensorRT), or for a remote model that takes pixels, uint8
    [max_batch, H, W, 3] resized BGR crops; ``infer(n)`` runs the first ``n`` rows and returns the
    outputs named in the spec, each with ``n`` rows, and where ``probabilities`` names one, the
    per-step class probabilities [n, T, C] under that name (for the plate's CTC posterior).
    ``timings`` holds the last call's stage times in milliseconds (keys such as ``h2d``, ``compute``,
    ``d2h`` or ``infer``).
    """

    name: str
    precision: str
    spec: ModelSpec
    max_batch: int
    input: np.ndarray
    timings: dict[str, float]
    probabilities: str | None

    def infer(self, n: int) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...
