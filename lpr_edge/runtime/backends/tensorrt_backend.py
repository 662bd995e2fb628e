"""TensorRT engines on pycuda: pinned (or mapped zero-copy) buffers, one stream, dynamic batch.

One code path for TensorRT 8.5, 10.x and 11.x: the named-tensor API (``num_io_tensors``,
``get_tensor_*``, ``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``).

Per call: the Recognizer preprocesses straight into the page-locked input buffer; then async H2D
of the ``n`` rows used, enqueue, async D2H of ``n`` rows of each output, one synchronise. On an
integrated GPU (Jetson: CPU and GPU share DRAM) buffers are mapped page-locked memory and the
copies are skipped. The primary context is pushed/popped around every call, so any thread may call.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...errors import BackendUnavailable, ClosedError, InferenceError, ModelFileError
from ...formats.engine_manifest import Manifest
from ...gpu_stack import unavailable_reason
from .base import Inference, load_rows
from .cuda_context import CudaContext


class _Tensor:
    """One I/O tensor: host array (pinned or mapped) and the device address TensorRT uses."""

    def __init__(self, name: str, shape: tuple[int, ...], dtype: np.dtype, cuda, zero_copy: bool):
        self.name, self.dtype = name, dtype
        if zero_copy:
            self.host = cuda.pagelocked_empty(shape, dtype, mem_flags=cuda.host_alloc_flags.DEVICEMAP)
            self.device = None
            self.address = int(self.host.base.get_device_pointer())
        else:
            self.host = cuda.pagelocked_empty(shape, dtype)
            self.device = cuda.mem_alloc(self.host.nbytes)
            self.address = int(self.device)
        self.row_bytes = self.host.nbytes // shape[0]

    def free(self) -> None:
        if self.device is not None:
            self.device.free()
            self.device = None
        base = getattr(self.host, "base", None)
        if base is not None and hasattr(base, "free"):
            base.free()


class TensorRTBackend:
    """A deserialised engine with buffers for the profile's max batch (or ``max_batch`` if smaller)."""

    name = "tensorrt"

    def __init__(self, engine_path: str | os.PathLike, manifest: Manifest, *, max_batch: int = 32,
                 device: int = 0, zero_copy: bool | None = None, timing: bool = True):
        import tensorrt as trt

        self.spec = manifest.spec
        self.precision = manifest.precision
        self.manifest = manifest
        self._ctx = CudaContext(device)
        self._tensors: dict[str, _Tensor] = {}
        self._closed = False
        try:  # a failed open releases the context it retained (else GPU memory stays held after a fallback)
            cuda = self._ctx.cuda
            self._cuda = cuda
            major, minor = self._ctx.device.compute_capability()
            manifest.check_runtime(trt.__version__, self._ctx.device.name(), f"{major}.{minor}")
            self.integrated = bool(self._ctx.device.get_attribute(cuda.device_attribute.INTEGRATED))
            self.zero_copy = self.integrated if zero_copy is None else bool(zero_copy)
            with self._ctx.active():
                try:
                    self._open(trt, Path(engine_path), max_batch, timing)
                except BaseException:
                    self._free()
                    raise
        except BaseException:
            self._closed = True
            self._ctx.release()
            raise

    def _open(self, trt, engine_path: Path, max_batch: int, timing: bool) -> None:
        data = engine_path.read_bytes()
        if not data:
            raise ModelFileError(f"engine {engine_path} is empty; rebuild it: {self.manifest.rebuild_command()}")
        from ...trt_compat import numpy_dtype, use_dla_at_runtime

        self._logger = trt.Logger(trt.Logger.ERROR)
        self._runtime = trt.Runtime(self._logger)
        use_dla_at_runtime(self._runtime, self.manifest.dla_core)
        self._engine = self._runtime.deserialize_cuda_engine(data)
        if self._engine is None:
            raise ModelFileError(f"engine {engine_path} cannot be deserialised (truncated, corrupt or from another "
                                 f"TensorRT); rebuild it: {self.manifest.rebuild_command()}")
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if inputs != [self.spec.input_name]:
            raise ModelFileError(f"engine inputs {inputs} do not match the manifest's {self.spec.input_name!r}")
        lo, _, hi = self._engine.get_tensor_profile_shape(self.spec.input_name, 0)
        # Batches below the profile's MIN (all but the built one on DLA) are padded up to it.
        self.min_batch = int(lo[0])
        self.max_batch = max(self.min_batch, min(max_batch, int(hi[0])))
        for name in names:
            dtype = numpy_dtype(self._engine.get_tensor_dtype(name))  # ArgMax may be int32 or int64
            if name == self.spec.input_name:
                shape = (self.max_batch, *self.spec.input_shape)
            else:
                dims = tuple(self._engine.get_tensor_shape(name))[1:]
                if any(d < 0 for d in dims):
                    raise ModelFileError(f"engine output {name} has dynamic non-batch dims {dims}")
                shape = (self.max_batch, *dims)
            self._tensors[name] = _Tensor(name, shape, dtype, self._cuda, self.zero_copy)
            self._context.set_tensor_address(name, self._tensors[name].address)
        missing = [n for n in self.spec.outputs if n not in self._tensors]
        if missing:
            raise ModelFileError(f"engine lacks outputs {missing} named in its manifest")
        self.input = self._tensors[self.spec.input_name].host
        # engines built by lpr-edge since 2026-12-07 also output the softmax behind the Max head
        wanted = self.manifest.extra.get("probabilities")
        self.probabilities = wanted if wanted in self._tensors and wanted not in self.spec.outputs else None
        read = (*self.spec.outputs, *([self.probabilities] if self.probabilities else []))
        self._outputs = [self._tensors[n] for n in read]
        self._stream = self._cuda.Stream()
        self._events = [self._cuda.Event() for _ in range(4)] if timing else None

    def infer(self, batch: np.ndarray) -> Inference:
        """Run ``batch`` (rows of the pinned :attr:`input`, or copied there); the outputs are copies,
        so the caller may keep them across calls."""
        if self._closed:
            raise ClosedError("TensorRT backend is closed; open a new Recognizer")
        n = load_rows(self.input, batch)
        cuda, stream, ev = self._cuda, self._stream, self._events
        timings: dict[str, float] = {}
        inp = self._tensors[self.spec.input_name]
        rows = max(n, self.min_batch)
        if rows > n:  # padding rows: defined values, results discarded
            inp.host[n:rows] = 0
        with self._ctx.active():
            if not self._context.set_input_shape(inp.name, (rows, *self.spec.input_shape)):
                raise InferenceError(f"TensorRT refused input shape {(rows, *self.spec.input_shape)} for "
                                     f"{inp.name}; rebuild the engine with a profile that covers it (--batch)")
            if ev:
                ev[0].record(stream)
            if not self.zero_copy:
                cuda.memcpy_htod_async(inp.device, inp.host[:rows], stream)
            if ev:
                ev[1].record(stream)
            if not self._context.execute_async_v3(stream.handle):
                raise InferenceError("TensorRT failed to enqueue the engine (see its log above); check the GPU "
                                     "with lpr-edge info")
            if ev:
                ev[2].record(stream)
            if not self.zero_copy:
                for out in self._outputs:
                    cuda.memcpy_dtoh_async(out.host[:n], out.device, stream)
            if ev:
                ev[3].record(stream)
            stream.synchronize()
            if ev:
                timings = {"h2d": ev[1].time_since(ev[0]), "compute": ev[2].time_since(ev[1]),
                           "d2h": ev[3].time_since(ev[2])}
        return Inference({out.name: out.host[:n].copy() for out in self._outputs}, timings)

    def _free(self) -> None:
        for t in self._tensors.values():
            t.free()
        self._tensors.clear()
        for attr in ("_context", "_engine", "_runtime", "_stream", "_events"):
            if hasattr(self, attr):
                setattr(self, attr, None)

    def close(self) -> None:
        """Free buffers and TensorRT objects inside the context, then release the context."""
        if self._closed:
            return
        self._closed = True
        with self._ctx.active():
            self._free()
        self._ctx.release()


def open_engine(engine_path: str | os.PathLike, **kwargs) -> TensorRTBackend:
    """Open an engine with its manifest (used by tests and tools)."""
    from ...formats.engine_manifest import read_manifest

    problem = unavailable_reason()
    if problem:
        raise BackendUnavailable(problem)
    return TensorRTBackend(engine_path, read_manifest(engine_path), **kwargs)
