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
                cuda.retains -= 1
                while stack() and (stack()[-1] is self or not stack()[-1].valid):
                    stack().pop()
                record("detach", "released")
            elif self.owner == threading.get_ident():  # pushes, releases, never pops
                cuda.retains -= 1
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
        cuda.retains -= 1
        record("driver_release", index)

    cuda.release_primary_from_any_thread = release_primary_from_any_thread
    return cuda


# ----------------------------------------------------------------------------------- tensorrt
# Where each name of the doubles' surfaces was checked (NVIDIA/TensorRT OSS; see
# ../shared/reference/tensorrt.md sections 2, 4 and 8b):
#
# | name                                        | 8.5 | 10.3 | 11.x | source                                          |
# |---------------------------------------------|-----|------|------|-------------------------------------------------|
# | NetworkDefinitionCreationFlag.EXPLICIT_BATCH| yes | yes* | no   | pyCore.cpp (release/8.5, 10.3, main)  |
# | BuilderFlag.FP16 / INT8                     | yes | yes  | no   | pyCore.cpp; 11.x migration guide               |
# | BuilderFlag.GPU_FALLBACK                    | yes | yes  | yes  | pyCore.cpp                                      |
# | BuilderFlag.VERSION_COMPATIBLE              | no  | yes  | yes  | added 8.6 (pyCore.cpp release/8.6)              |
# | IBuilderConfig.builder_optimization_level   | no  | yes  | yes  | added 8.6 (pyCore.cpp release/8.6)              |
# | IBuilderConfig.int8_calibrator              | yes | yes  | no   | pyCore.cpp; removed 10.16 -> 11.0               |
# | IBuilderConfig.set_calibration_profile      | yes | yes  | no   | pyCore.cpp; NvInfer.h ("MIN and MAX ... kOPT")  |
# | IInt8EntropyCalibrator2                     | yes | yes  | no   | python/src/infer/pyInt8.cpp (8.5, 10.3)         |
# | DataType.INT64                              | no  | yes  | yes  | python/src/infer/pyFoundationalTypes.cpp (10.0) |
# | IRuntime.DLA_core (default -1)              | yes | yes  | yes  | include/NvInferRuntime.h (8.5 ~644), pyCore.cpp |
# | IExecutionContext.set_input_shape -> bool   | yes | yes  | yes  | pyCore.cpp 819-944 (8.5.1)                      |
# | execute_async_v3 -> bool                    | yes | yes  | yes  | pyCore.cpp (8.5.1)                              |
# * 10.3 accepts EXPLICIT_BATCH and ignores it.
# Behaviour modelled from the same sources: a calibration cache is used only when its header names
# the running version and the calibrator's algorithm (samples/sampleINT8/README.md), otherwise
# TensorRT calibrates again at the calibration profile's OPT shape with batches of
# get_batch_size() rows (NvInfer.h); a build with no calibration batches fails (None). DLA has no
# dynamic shapes and runs FP16/INT8 only (docs: DLA layer restrictions).


def version_code(version: str) -> int:
    """NV_TENSORRT_VERSION: 8.x major*1000+minor*100+patch, 10.x on major*10000+minor*100+patch."""
    major, minor, patch = (int(v) for v in (version.split(".") + ["0", "0"])[:3])
    return major * 1000 + minor * 100 + patch if major < 10 else major * 10000 + minor * 100 + patch


def make_tensorrt(version: str = "10.3.0", cuda=None, dla_cores: int = 0):
    """A ``tensorrt`` double for 8.5.x, 10.x or 11.x, executing engines on ``cuda``'s memory."""
    major = int(version.split(".")[0])
    after_86 = major >= 10  # the doubles cover 8.5, 10.x and 11.x: 8.6 additions are 10+ here
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.calls = []
    trt.errors = []  # what TensorRT would log at ERROR level
    call = trt.calls.append

    class Logger:
        ERROR, WARNING, INFO, VERBOSE = 1, 2, 3, 4

        def __init__(self, level=2):
            self.level = level

    trt.Logger = Logger
    trt.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")
    dtypes = dict(FLOAT="FLOAT", HALF="HALF", INT32="INT32", INT8="INT8", BOOL="BOOL")
    if after_86:
        dtypes["INT64"] = "INT64"
    trt.DataType = types.SimpleNamespace(**dtypes)
    _np = {"FLOAT": np.float32, "HALF": np.float16, "INT32": np.int32, "INT64": np.int64, "INT8": np.int8,
           "BOOL": np.bool_}

    def nptype(dt):
        # TensorRT 8.5's tensorrt/__init__.py builds its table with np.bool, gone since NumPy 1.24.
        if not after_86 and tuple(int(v) for v in np.__version__.split(".")[:2]) >= (1, 24):
            raise AttributeError("module 'numpy' has no attribute 'bool'.")
        return _np[dt]

    trt.nptype = nptype
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")
    trt.DeviceType = types.SimpleNamespace(GPU="GPU", DLA="DLA")
    net_flags = {"STRONGLY_TYPED": 1 if major < 11 else 0}
    if major < 11:
        net_flags["EXPLICIT_BATCH"] = 0
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(**net_flags)
    builder_flags = {"GPU_FALLBACK": "GPU_FALLBACK"}
    if after_86:
        builder_flags["VERSION_COMPATIBLE"] = "VERSION_COMPATIBLE"
    if major < 11:
        builder_flags.update(FP16="FP16", INT8="INT8")
    trt.BuilderFlag = types.SimpleNamespace(**builder_flags)

    if major < 11:
        class IInt8EntropyCalibrator2:
            algorithm = "EntropyCalibration2"

            def __init__(self):
                self._base_init = True

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    config_attrs = {"default_device_type", "DLA_core"}
    if after_86:
        config_attrs.add("builder_optimization_level")
    if major < 11:
        config_attrs.add("int8_calibrator")

    class IBuilderConfig:
        def __init__(self):
            object.__setattr__(self, "flags", set())
            object.__setattr__(self, "profiles", [])
            object.__setattr__(self, "values", {})
            object.__setattr__(self, "_timing", None)
            object.__setattr__(self, "calibration_profile", None)

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
            object.__setattr__(self, "calibration_profile", profile)
            call(("set_calibration_profile", profile.shapes))

        IBuilderConfig.set_calibration_profile = set_calibration_profile
    trt.IBuilderConfig = IBuilderConfig

    def fail(message):
        trt.errors.append(message)
        call(("error", message))
        return None

    def calibrate(config, model):
        """Use the calibrator's cache if its header fits, else calibrate at the OPT shape."""
        calib = config.values.get("int8_calibrator")
        if calib is None:
            return fail("INT8 flag without calibrator or Q/DQ")
        if not getattr(calib, "_base_init", False):
            raise TypeError("calibrator base __init__ not called")
        expected = f"TRT-{version_code(version)}-{type(calib).algorithm}"
        cache = calib.read_calibration_cache()
        if cache is not None and bytes(cache).split(b"\n", 1)[0].decode() == expected:
            call(("calibration_cache_used", expected))
            return True
        call(("calibrating", "no cache" if cache is None else "cache header does not match " + expected))
        profile = config.calibration_profile or config.profiles[0]
        (name, (_, opt, _)), = profile.shapes.items()
        if calib.get_batch_size() != opt[0]:
            return fail(f"calibration batch size {calib.get_batch_size()} does not match the OPT shape {opt}")
        row_bytes = int(np.prod(opt[1:])) * 4
        batches = 0
        while True:
            pointers = calib.get_batch([name])
            if not pointers:
                break
            written = cuda.written.get(int(pointers[0]), 0) if cuda is not None else 0
            if written < opt[0] * row_bytes:
                return fail(f"calibration batch at {pointers[0]:#x} has {written} bytes written, the OPT shape "
                            f"{opt} reads {opt[0] * row_bytes}")
            batches += 1
        if batches == 0:
            return fail("Calibration failure occurred with no scaling factors detected")
        call(("calibrated", batches))
        calib.write_calibration_cache(memoryview(expected.encode() + b"\n"))
        return True

    def check_dla(config):
        if config.values.get("default_device_type") != "DLA":
            return True
        mn, opt, mx = next(iter(config.profiles[0].shapes.values()))
        if not mn == opt == mx:
            return fail("DLA does not support dynamic shapes: MIN, OPT and MAX must be equal")
        if not {"FP16", "INT8"} & config.flags and major < 11:
            return fail("DLA runs FP16 or INT8 only")
        return True

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
            if not check_dla(config):
                return None
            if major < 11 and "INT8" in config.flags and not quantized and not calibrate(config, model):
                return None
            call(("build", sorted(config.flags), quantized))
            dla = config.values.get("DLA_core") if config.values.get("default_device_type") == "DLA" else None
            header = {"version": version, "profiles": [p.shapes for p in config.profiles],
                      "flags": sorted(config.flags), "quantized": quantized, "dla_core": dla}
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
            types_ = {1: "FLOAT", 10: "HALF", 6: "INT32", 7: "INT64" if after_86 else "INT32"}
            values = list(model.graph.input) + list(model.graph.output)
            self.dtypes = {v.name: types_[v.type.tensor_type.elem_type] for v in values}
            dims = lambda v: [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim]
            self.shapes = {v.name: dims(v) for v in values}

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
                self.shape = None  # enqueue now fails: the input shape is unspecified
                return False
            self.shape = tuple(shape)
            return True

        def set_tensor_address(self, name, address):
            self.addresses[name] = int(address)
            return True

        def execute_async_v3(self, stream_handle):
            if cuda is not None and cuda.current_context_depth() == 0:
                raise LogicError("execute without a current CUDA context")
            if self.shape is None:
                return False
            call(("execute", self.shape))
            cuda.log.append(("execute", self.shape))
            feeds = {}
            for name in self.engine.inputs:
                dtype = np.dtype(_np[self.engine.dtypes[name]])
                count = int(np.prod(self.shape))
                raw = cuda.device_bytes(self.addresses[name])[: count * dtype.itemsize]
                feeds[name] = raw.view(dtype).reshape(self.shape)
            results = self.engine.session.run(None, feeds)
            for name, value in zip(self.engine.outputs, results):
                value = value.astype(_np[self.engine.dtypes[name]], copy=False)
                data = np.ascontiguousarray(value).view(np.uint8).reshape(-1)
                cuda.device_bytes(self.addresses[name])[: data.size] = data
            return True

    class Runtime:
        def __init__(self, logger):
            self.DLA_core = -1

        def deserialize_cuda_engine(self, data):
            data = bytes(data)
            if not data.startswith(b"FAKEENGINE"):
                return None  # TensorRT logs an error and returns None
            try:
                header, onnx_bytes = data[len(b"FAKEENGINE"):].split(b"\n", 1)
                head = json.loads(header)
                head["profiles"] = [{k: tuple(tuple(s) for s in v) for k, v in p.items()} for p in head["profiles"]]
            except Exception:
                return None
            if head.get("dla_core") is not None and self.DLA_core != head["dla_core"]:
                return fail(f"engine built for DLA core {head['dla_core']} but IRuntime.DLA_core is {self.DLA_core}")
            return Engine(head, onnx_bytes)

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
    from lpr_edge.runtime.backends import cuda_context

    monkeypatch.setattr(cuda_context, "release_primary_context", cuda.release_primary_from_any_thread, raising=False)
    return trt, cuda
