"""ONNX Runtime on the CPU: the backend for laptops, CI and machines without a GPU."""
from __future__ import annotations

import os
import time

import numpy as np

from ...errors import BackendUnavailable, ClosedError, InputError, ModelFileError
from ...spec import ModelSpec
from .base import Inference, load_rows


class OnnxRuntimeBackend:
    """An ONNX Runtime session with a preallocated input buffer and dynamic batch."""

    name = "onnxruntime"

    def __init__(self, model_path: str | os.PathLike, spec: ModelSpec, max_batch: int = 32,
                 threads: int = 0, precision: str = "fp32", *, model=None, probabilities: str | None = None,
                 spin: bool = True):
        """``model``: the loaded ONNX to run instead of reading ``model_path`` (e.g. with
        ``probabilities``, the per-step class probabilities, added to its outputs). ``spin``: ONNX Runtime's
        worker threads spin while a run lasts and stop when it returns (as fast alone as spinning on, and
        sessions side by side in one process do not fight over the cores); off, they never spin."""
        try:
            import onnxruntime as ort
        except ImportError:  # pragma: no cover - onnxruntime is a hard dependency
            raise BackendUnavailable("onnxruntime is not installed; pip install onnxruntime") from None
        if max_batch < 1:
            raise InputError(f"max_batch must be at least 1, got {max_batch}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        if not spin:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        else:
            # spin while a run lasts (the fastest), stop when it returns: left spinning, the workers take the
            # cores from the decoding that follows and from every other session in the process
            opts.add_session_config_entry("session.force_spinning_stop", "1")
        opts.log_severity_level = 3
        try:
            source = model.SerializeToString() if model is not None else str(model_path)
            self._session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelFileError(f"ONNX Runtime cannot load {model_path}: {str(exc).splitlines()[0][:300]}") from None
        self.spec = spec
        self.max_batch = max_batch
        self.precision = precision
        self.input = np.zeros((max_batch, *spec.input_shape), np.float32)
        self.probabilities = probabilities
        self._outputs = list(spec.outputs) + ([probabilities] if probabilities else [])

    def infer(self, batch: np.ndarray) -> Inference:
        """Run ``batch`` (rows of :attr:`input`, or copied there)."""
        if self._session is None:
            raise ClosedError("backend is closed; open a new Recognizer")
        n = load_rows(self.input, batch)
        t0 = time.perf_counter()
        arrays = self._session.run(self._outputs, {self.spec.input_name: self.input[:n]})
        return Inference(dict(zip(self._outputs, arrays)), {"infer": (time.perf_counter() - t0) * 1e3})

    def close(self) -> None:
        self._session = None

