"""The device's primary CUDA context, pushed and popped around every piece of CUDA work.

Works from any thread (ROS 2 callbacks, thread pools): nothing relies on ``pycuda.autoinit``, and
the primary context is the one the CUDA runtime (and so TensorRT) uses too.
"""
from __future__ import annotations

import contextlib
import importlib

from ..errors import BackendUnavailable


def import_pycuda_driver():
    try:
        return importlib.import_module("pycuda.driver")
    except Exception as exc:
        raise BackendUnavailable(f"pycuda is not available ({type(exc).__name__}: {exc}); "
                                 "pip install 'lpr-edge[trt]' (needs the CUDA toolkit, nvcc on PATH)") from None


class CudaContext:
    """Retains device ``index``'s primary context; ``active()`` makes it current for a block."""

    def __init__(self, index: int = 0):
        self.cuda = import_pycuda_driver()
        try:
            self.cuda.init()
            count = self.cuda.Device.count()
        except Exception as exc:
            raise BackendUnavailable(f"CUDA driver unavailable: {exc}") from None
        if index >= count:
            raise BackendUnavailable(f"CUDA device {index} not found ({count} device(s))")
        self.device = self.cuda.Device(index)
        self.context = self.device.retain_primary_context()

    def push(self) -> None:
        self.context.push()

    def pop(self) -> None:
        self.cuda.Context.pop()

    @contextlib.contextmanager
    def active(self):
        self.push()
        try:
            yield
        finally:
            self.pop()

    def release(self) -> None:
        """Drop our reference to the primary context (after all our CUDA objects are freed)."""
        if self.context is not None:
            self.context.detach()
            self.context = None
