"""The device's primary CUDA context, pushed and popped around every piece of CUDA work.

Works from any thread (ROS 2 callbacks, thread pools): nothing relies on ``pycuda.autoinit``, and
the primary context is the one the CUDA runtime (and so TensorRT) uses too.
"""
from __future__ import annotations

import contextlib
import threading

from ...errors import BackendUnavailable
from ...gpu_stack import import_pycuda_driver


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
        self.index = index
        self.context = self.device.retain_primary_context()
        self._owner = threading.get_ident()  # pycuda ties a context object to the thread that made it

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
        """Release our retain of the primary context (after all our CUDA objects are freed).

        pycuda's ``detach()`` releases only on the thread that retained the context: from another
        thread it does nothing (the retain leaks), and on the owning thread with the context not
        current it pushes it and releases without popping. So: on the owning thread, push and
        detach (detach releases the current context and takes it off pycuda's stack itself; a
        ``pop()`` after it would fail on the empty stack). From any other thread (``close()``
        from a worker, a ROS executor), mark pycuda's object dead and release through the
        driver API, which is not tied to a thread. The primary context may stay current on the
        owning thread afterwards, as the CUDA runtime leaves it; TensorRT's runtime holds its own
        retain of it while the process lives.
        """
        context, self.context = self.context, None
        if context is None:
            return
        if threading.get_ident() == self._owner:
            context.push()
            context.detach()
        else:
            context.detach()  # a no-op off the owning thread, but pycuda no longer releases it later
            release_primary_context(self.index)


def release_primary_context(index: int) -> None:
    """``cuDevicePrimaryCtxRelease`` on device ``index`` through libcuda (any thread may call it)."""
    import ctypes

    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return  # no driver library: nothing was retained through it
    dev = ctypes.c_int()
    if lib.cuDeviceGet(ctypes.byref(dev), int(index)) != 0:
        return
    release = getattr(lib, "cuDevicePrimaryCtxRelease_v2", None) or lib.cuDevicePrimaryCtxRelease
    release(dev)
