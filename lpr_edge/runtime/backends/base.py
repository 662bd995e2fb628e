"""What every backend offers the Recognizer: an input buffer and ``infer(batch)``."""
from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from ...errors import InputError
from ...spec import ModelSpec


class Inference(NamedTuple):
    """What one ``infer`` call gave: the outputs (the caller's to keep; a later call does not change
    them) and its stage times in milliseconds (keys such as ``infer``, or ``h2d``/``compute``/``d2h``)."""

    outputs: dict[str, np.ndarray]
    timings: dict[str, float]


class Backend(Protocol):
    """An opened model. Not thread-safe by itself: the Recognizer serialises calls.

    ``input`` is the buffer a batch is best written into, [max_batch, ...]: float32 model input
    (page-locked host memory on TensorRT), or for a remote model that takes pixels, uint8
    [max_batch, H, W, 3] resized BGR crops (``preprocess.into_input`` writes either). ``infer(batch)``
    runs ``batch`` (rows of ``input``, or any array of its row shape, which is copied in) and returns
    the outputs named in the spec, each with ``len(batch)`` rows, and where ``probabilities`` names one,
    the per-step class probabilities [n, T, C] under that name (for the plate's CTC posterior).
    """

    name: str
    precision: str
    spec: ModelSpec
    max_batch: int
    input: np.ndarray
    probabilities: str | None

    def infer(self, batch: np.ndarray) -> Inference: ...

    def close(self) -> None: ...


def load_rows(buffer: np.ndarray, batch: np.ndarray) -> int:
    """Put ``batch`` in the first rows of ``buffer`` (nothing to copy when it is those rows already);
    returns its row count. Refuses an empty batch, one over the buffer's rows, or of another row shape."""
    n = len(batch)
    if not 1 <= n <= len(buffer):
        raise InputError(f"batch of {n} is outside 1..{len(buffer)}")
    if batch.shape[1:] != buffer.shape[1:]:
        raise InputError(f"batch rows {batch.shape[1:]} do not match the model input {buffer.shape[1:]}")
    if not (batch.__array_interface__["data"][0] == buffer.__array_interface__["data"][0]
            and batch.strides == buffer.strides):
        np.copyto(buffer[:n], batch)
    return n
