"""Test double of ``pycuda.driver``: the small surface lpr-edge uses, faithful where it matters.

Work needs a current context on the calling thread (the real "invalid device context" error
otherwise); a retained primary context is tied to the thread that retained it, and ``detach()``
behaves as pycuda's ``cuda.hpp`` (v2026.1) says: releases when current, pushes and releases
without popping on the owning thread, does nothing from another thread. Page-locked arrays have
``.base`` allocations; device memory is real bytes, so a wrong address or a missing copy shows up
as a wrong plate.
"""
from __future__ import annotations

import itertools
import threading
import types

import numpy as np


class LogicError(RuntimeError):
    pass


def make_pycuda(integrated: bool = False, name: str = "Fake GPU", cc=(8, 7), devices: int = 1):
    """A fresh ``pycuda.driver`` double with its own memory, call log and context stacks."""
    cuda = types.ModuleType("pycuda.driver")
    cuda.log = []
    cuda.retains = 0  # primary-context retains not yet released (cuDevicePrimaryCtxRetain/Release)
    cuda.written = {}  # device pointer -> bytes written by the last host-to-device copy
    cuda.memory = {}  # device pointer -> np.uint8 array (device allocations and mapped host memory)
    cuda.live = set()  # allocations not yet freed
    ptrs = itertools.count(0x10000, 0x10000)
    local = threading.local()
    lock = threading.Lock()
    cuda.LogicError = LogicError

    def stack():
        if not hasattr(local, "stack"):
            local.stack = []
        return local.stack

    def need_context(what):
        if not stack():
            raise LogicError(f"{what} failed: invalid device context - no currently active context?")

    def record(*entry):
        with lock:
            cuda.log.append(entry)

    def released():
        """The last retain of the primary context is gone: CUDA destroys the context and every
        allocation made in it; a pointer kept from then on is invalid."""
        cuda.retains -= 1
        if cuda.retains == 0:
            cuda.memory.clear()

    cuda.init = lambda flags=0: record("init")
    cuda.device_attribute = types.SimpleNamespace(INTEGRATED="INTEGRATED", CAN_MAP_HOST_MEMORY="CAN_MAP")
    cuda.host_alloc_flags = types.SimpleNamespace(PORTABLE=1, DEVICEMAP=2, WRITECOMBINED=4)

    class Context:
        """pycuda's primary_context (cuda.hpp, v2026.1): tied to the thread that retained it."""

        def __init__(self):
            self.owner, self.valid = threading.get_ident(), True

        def push(self):
            stack().append(self)
            record("push", threading.get_ident())

        @staticmethod
        def pop():
            # Invalid (detached) entries are dropped first, as pycuda's current_context() does.
            while stack() and not stack()[-1].valid:
                stack().pop()
            if not stack():
                raise LogicError("context::pop failed: invalid device context - cannot pop non-current context")
            stack().pop()
            record("pop", threading.get_ident())

        def detach(self):
            if not self.valid:
                raise LogicError("context::detach failed: invalid device context - cannot detach from invalid context")
            if stack() and stack()[-1] is self:  # current: release, and leave pycuda's stack
                released()
                while stack() and (stack()[-1] is self or not stack()[-1].valid):
                    stack().pop()
                record("detach", "released")
            elif self.owner == threading.get_ident():  # pushes, releases, never pops
                released()
                record("detach", "released, left pushed")
            else:  # another thread: nothing happens, the retain leaks
                record("detach", "no-op (other thread)")
            self.valid = False

    class Device:
        def __init__(self, index):
            if index >= devices:
                raise LogicError("cuDeviceGet failed: invalid device ordinal")

        @staticmethod
        def count():
            return devices

        def name(self):
            return name

        def compute_capability(self):
            return cc

        def total_memory(self):
            return 8 << 30

        def get_attribute(self, attr):
            return int(integrated) if attr == "INTEGRATED" else 1

        def retain_primary_context(self):
            record("retain")
            cuda.retains += 1
            return Context()

    cuda.Context, cuda.Device = Context, Device

    class DeviceAllocation:
        def __init__(self, nbytes):
            self.ptr = next(ptrs)
            cuda.memory[self.ptr] = np.zeros(nbytes, np.uint8)
            cuda.live.add(self.ptr)

        def __int__(self):
            return self.ptr

        def free(self):
            need_context("cuMemFree")
            cuda.live.discard(self.ptr)
            cuda.memory.pop(self.ptr, None)
            record("free", self.ptr)

    class PagelockedHostAllocation(bytearray):
        def get_device_pointer(self):
            if not self.mapped:
                raise LogicError("cuMemHostGetDevicePointer failed: invalid value (memory not mapped)")
            return self.ptr

        def free(self):
            cuda.live.discard(self.ptr)
            cuda.memory.pop(self.ptr, None)
            record("free_host", self.ptr)

    def mem_alloc(nbytes):
        need_context("cuMemAlloc")
        record("mem_alloc", int(nbytes))
        return DeviceAllocation(int(nbytes))

    def pagelocked_empty(shape, dtype, order="C", mem_flags=0):
        need_context("cuMemHostAlloc")
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        alloc = PagelockedHostAllocation(nbytes)
        alloc.ptr, alloc.mapped = next(ptrs), bool(mem_flags & cuda.host_alloc_flags.DEVICEMAP)
        cuda.live.add(alloc.ptr)
        if alloc.mapped:  # mapped: the device sees the same bytes
            cuda.memory[alloc.ptr] = np.frombuffer(alloc, np.uint8)
        record("pagelocked_empty", tuple(shape), dtype.name, mem_flags)
        return np.ndarray(shape, dtype, buffer=alloc, order=order)

    def _device_bytes(ptr):
        if int(ptr) not in cuda.memory:
            raise LogicError("cuMemcpy failed: invalid argument (memory freed, or its context destroyed)")
        return cuda.memory[int(ptr)]

    def memcpy_htod_async(dest, src, stream=None):
        need_context("cuMemcpyHtoDAsync")
        data = np.ascontiguousarray(src).view(np.uint8).reshape(-1)
        _device_bytes(dest)[: data.size] = data
        cuda.written[int(dest)] = data.size
        record("htod", data.size)

    def memcpy_dtoh_async(dest, src, stream=None):
        need_context("cuMemcpyDtoHAsync")
        view = dest.view(np.uint8).reshape(-1)
        view[:] = _device_bytes(src)[: view.size]
        record("dtoh", view.size)

    cuda.mem_alloc, cuda.pagelocked_empty = mem_alloc, pagelocked_empty
    cuda.memcpy_htod_async, cuda.memcpy_dtoh_async = memcpy_htod_async, memcpy_dtoh_async
    cuda.memcpy_htod = lambda dest, src: memcpy_htod_async(dest, src)
    cuda.device_bytes = _device_bytes

    class Stream:
        def __init__(self, flags=0):
            need_context("cuStreamCreate")
            self.handle = next(ptrs)

        def synchronize(self):
            need_context("cuStreamSynchronize")
            record("sync")

    class Event:
        def __init__(self, flags=0):
            need_context("cuEventCreate")
            self.t = 0.0

        def record(self, stream=None):
            self.t = len(cuda.log) * 0.01

        def time_since(self, other):
            return max(0.0, self.t - other.t)

    cuda.Stream, cuda.Event = Stream, Event
    cuda.current_context_depth = lambda: len([c for c in stack() if c.valid])

    def release_primary_from_any_thread(index):  # libcuda's cuDevicePrimaryCtxRelease via ctypes
        released()
        record("driver_release", index)

    cuda.release_primary_from_any_thread = release_primary_from_any_thread
    return cuda
