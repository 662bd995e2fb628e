"""Test doubles of ``tensorrt`` and ``pycuda.driver``: the small API surface lpr-edge uses.

They are faithful where it matters:
- each TensorRT version exposes only what that version has (11.x: no FP16/INT8 builder flags, no
  calibrator classes, no EXPLICIT_BATCH, no ``int8_calibrator``/``set_calibration_profile``);
  8.5 refuses ONNX networks created without EXPLICIT_BATCH;
- pycuda work needs a current context on the calling thread (the real "invalid device context"
  error otherwise); page-locked arrays have ``.base`` allocations; device memory is real bytes;
- an "engine" carries the ONNX it was built from and executes it with ONNX Runtime on the bytes
  found at the bound device addresses, so results are real and a wrong address, size or missing
  copy shows up as a wrong plate.
"""
from __future__ import annotations

import itertools
import json
import threading
import types

import numpy as np


# ------------------------------------------------------------------------------------- pycuda
class LogicError(RuntimeError):
    pass


def make_pycuda(integrated: bool = False, name: str = "Fake GPU", cc=(8, 7), devices: int = 1):
    """A fresh ``pycuda.driver`` double with its own memory, call log and context stacks."""
    cuda = types.ModuleType("pycuda.driver")
    cuda.log = []
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

    cuda.init = lambda flags=0: record("init")
    cuda.device_attribute = types.SimpleNamespace(INTEGRATED="INTEGRATED", CAN_MAP_HOST_MEMORY="CAN_MAP")
    cuda.host_alloc_flags = types.SimpleNamespace(PORTABLE=1, DEVICEMAP=2, WRITECOMBINED=4)

    class Context:
        def push(self):
            stack().append(self)
            record("push", threading.get_ident())

        @staticmethod
        def pop():
            if not stack():
                raise LogicError("cuCtxPopCurrent failed: invalid device context")
            stack().pop()
            record("pop", threading.get_ident())

        def detach(self):
            record("detach")

    class Device:
        _primary = Context()

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
            return Device._primary

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
            record("free", self.ptr)

    class PagelockedHostAllocation(bytearray):
        def get_device_pointer(self):
            if not self.mapped:
                raise LogicError("cuMemHostGetDevicePointer failed: invalid value (memory not mapped)")
            return self.ptr

        def free(self):
            cuda.live.discard(self.ptr)
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
        return cuda.memory[int(ptr)]

    def memcpy_htod_async(dest, src, stream=None):
        need_context("cuMemcpyHtoDAsync")
        data = np.ascontiguousarray(src).view(np.uint8).reshape(-1)
        _device_bytes(dest)[: data.size] = data
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
    cuda.current_context_depth = lambda: len(stack())
    return cuda


# ----------------------------------------------------------------------------------- tensorrt
def make_tensorrt(version: str = "10.3.0", cuda=None, dla_cores: int = 0):
    """A ``tensorrt`` double for 8.5.x, 10.x or 11.x, executing engines on ``cuda``'s memory."""
    major = int(version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.calls = []
    call = trt.calls.append

    class Logger:
        ERROR, WARNING, INFO, VERBOSE = 1, 2, 3, 4

        def __init__(self, level=2):
            self.level = level

    trt.Logger = Logger
    trt.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")
    trt.DataType = types.SimpleNamespace(FLOAT="FLOAT", HALF="HALF", INT32="INT32", INT64="INT64", INT8="INT8")
    _np = {"FLOAT": np.float32, "HALF": np.float16, "INT32": np.int32, "INT64": np.int64, "INT8": np.int8}
    trt.nptype = lambda dt: _np[dt]
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")
    trt.DeviceType = types.SimpleNamespace(GPU="GPU", DLA="DLA")
    net_flags = {"STRONGLY_TYPED": 1 if major < 11 else 0}
    if major < 11:
        net_flags["EXPLICIT_BATCH"] = 0
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(**net_flags)
    builder_flags = {"GPU_FALLBACK": "GPU_FALLBACK", "VERSION_COMPATIBLE": "VERSION_COMPATIBLE"}
    if major < 11:
        builder_flags.update(FP16="FP16", INT8="INT8")
    trt.BuilderFlag = types.SimpleNamespace(**builder_flags)

    if major < 11:
        class IInt8EntropyCalibrator2:
            def __init__(self):
                self._base_init = True

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    config_attrs = {"default_device_type", "DLA_core", "builder_optimization_level"}
    if major < 11:
        config_attrs.add("int8_calibrator")

    class IBuilderConfig:
        def __init__(self):
            object.__setattr__(self, "flags", set())
            object.__setattr__(self, "profiles", [])
            object.__setattr__(self, "values", {})
            object.__setattr__(self, "_timing", None)

        def __setattr__(self, key, value):
            if key not in config_attrs:
                raise AttributeError(f"'tensorrt.IBuilderConfig' object has no attribute '{key}'")
            self.values[key] = value
            call(("config." + key, value))

        def __getattr__(self, key):
            if key in config_attrs:
                return self.values.get(key)
            raise AttributeError(key)

        def set_flag(self, flag):
            self.flags.add(flag)
            call(("set_flag", flag))

        def set_memory_pool_limit(self, pool, size):
            call(("set_memory_pool_limit", pool, size))

        def add_optimization_profile(self, profile):
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def create_timing_cache(self, blob):
            call(("create_timing_cache", bytes(blob)))
            return types.SimpleNamespace(serialize=lambda: b"fake-timing-cache")

        def set_timing_cache(self, cache, ignore_mismatch):
            object.__setattr__(self, "_timing", cache)
            return True

        def get_timing_cache(self):
            return self._timing

    if major < 11:
        def set_calibration_profile(self, profile):
            call(("set_calibration_profile", profile.shapes))

        IBuilderConfig.set_calibration_profile = set_calibration_profile
    trt.IBuilderConfig = IBuilderConfig

    class Profile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, mn, opt, mx):
            self.shapes[name] = (tuple(mn), tuple(opt), tuple(mx))

    class Network:
        def __init__(self, flags):
            self.flags = flags
            self.onnx = None

    class Builder:
        def __init__(self, logger):
            self.num_DLA_cores = dla_cores

        def create_network(self, flags=0):
            call(("create_network", flags))
            return Network(flags)

        def create_builder_config(self):
            return IBuilderConfig()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            import onnx

            model = onnx.load_from_string(network.onnx)
            ops = {n.op_type for n in model.graph.node}
            quantized = "QuantizeLinear" in ops
            if major < 11 and "INT8" in config.flags and not quantized:
                calib = config.values.get("int8_calibrator")
                if calib is None:
                    raise RuntimeError("INT8 flag without calibrator or Q/DQ")
                if not getattr(calib, "_base_init", False):
                    raise TypeError("calibrator base __init__ not called")
                if calib.read_calibration_cache() is None:  # calibrate from batches
                    while calib.get_batch(["x"]):
                        pass
                    calib.write_calibration_cache(b"TRT-%d-EntropyCalibration2\n" % (int(major * 1000),))
            call(("build", sorted(config.flags), quantized))
            header = {"version": version, "profiles": [p.shapes for p in config.profiles],
                      "flags": sorted(config.flags), "quantized": quantized}
            return b"FAKEENGINE" + json.dumps(header).encode() + b"\n" + network.onnx

    trt.Builder = Builder

    class OnnxParser:
        def __init__(self, network, logger):
            self.network, self.errors = network, []

        def parse(self, data):
            import onnx

            if major < 10 and not self.network.flags & (1 << 0):
                self.errors.append("network must be created with EXPLICIT_BATCH for ONNX")
                return False
            try:
                onnx.load_from_string(bytes(data))
            except Exception as exc:
                self.errors.append(f"protobuf parse failed: {exc}")
                return False
            self.network.onnx = bytes(data)
            return True

        @property
        def num_errors(self):
            return len(self.errors)

        def get_error(self, i):
            return self.errors[i]

    trt.OnnxParser = OnnxParser

    class Engine:
        def __init__(self, header, onnx_bytes):
            import onnx
            import onnxruntime as ort

            self.header = header
            model = onnx.load_from_string(onnx_bytes)
            self.session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
            self.inputs = {i.name: i for i in self.session.get_inputs()}
            self.outputs = {o.name: o for o in self.session.get_outputs()}
            self.names = list(self.inputs) + list(self.outputs)
            types_ = {1: "FLOAT", 10: "HALF", 6: "INT32", 7: "INT64"}
            self.dtypes = {v.name: types_[v.type.tensor_type.elem_type] for v in list(model.graph.input) + list(model.graph.output)}
            self.shapes = {v.name: [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim]
                           for v in list(model.graph.input) + list(model.graph.output)}

        @property
        def num_io_tensors(self):
            return len(self.names)

        def get_tensor_name(self, i):
            return self.names[i]

        def get_tensor_mode(self, name):
            return trt.TensorIOMode.INPUT if name in self.inputs else trt.TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name):
            return self.dtypes[name]

        def get_tensor_shape(self, name):
            return tuple(self.shapes[name])

        def get_tensor_profile_shape(self, name, index):
            return self.header["profiles"][index][name]

        def create_execution_context(self):
            return Context(self)

    class Context:
        def __init__(self, engine):
            self.engine, self.addresses, self.shape = engine, {}, None

        def set_input_shape(self, name, shape):
            mn, _, mx = self.engine.header["profiles"][0][name]
            if not mn[0] <= shape[0] <= mx[0]:
                return False
            self.shape = tuple(shape)
            return True

        def set_tensor_address(self, name, address):
            self.addresses[name] = int(address)
            return True

        def execute_async_v3(self, stream_handle):
            if cuda is not None and cuda.current_context_depth() == 0:
                raise LogicError("execute without a current CUDA context")
            call(("execute", self.shape))
            cuda.log.append(("execute", self.shape))
            feeds = {}
            for name in self.engine.inputs:
                dtype = np.dtype(trt.nptype(self.engine.dtypes[name]))
                count = int(np.prod(self.shape))
                raw = cuda.device_bytes(self.addresses[name])[: count * dtype.itemsize]
                feeds[name] = raw.view(dtype).reshape(self.shape)
            results = self.engine.session.run(None, feeds)
            for name, value in zip(self.engine.outputs, results):
                data = np.ascontiguousarray(value).view(np.uint8).reshape(-1)
                cuda.device_bytes(self.addresses[name])[: data.size] = data
            return True

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            data = bytes(data)
            if not data.startswith(b"FAKEENGINE"):
                return None  # TensorRT logs an error and returns None
            try:
                header, onnx_bytes = data[len(b"FAKEENGINE"):].split(b"\n", 1)
                head = json.loads(header)
                head["profiles"] = [{k: tuple(tuple(s) for s in v) for k, v in p.items()} for p in head["profiles"]]
                return Engine(head, onnx_bytes)
            except Exception:
                return None

    trt.Runtime = Runtime
    return trt


def install(monkeypatch, trt_version="10.3.0", integrated=False, dla_cores=0, **cuda_kwargs):
    """Put both doubles into ``sys.modules`` for one test; returns (trt, cuda)."""
    import sys

    cuda = make_pycuda(integrated=integrated, **cuda_kwargs)
    trt = make_tensorrt(trt_version, cuda, dla_cores)
    pycuda_pkg = types.ModuleType("pycuda")
    pycuda_pkg.driver = cuda
    pycuda_pkg.__version__ = "2026.1-fake"
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "pycuda", pycuda_pkg)
    monkeypatch.setitem(sys.modules, "pycuda.driver", cuda)
    return trt, cuda
