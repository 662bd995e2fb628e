"""Test double of the ``tensorrt`` module's surface for 8.5.x, 10.x and 11.x: which names each
version has (table below); the builder and runtime parts are in their own modules."""
from __future__ import annotations

import types

import numpy as np

from .tensorrt_builder_double import add_builder
from .tensorrt_double_base import version_code  # noqa: F401  (re-exported)
from .tensorrt_runtime_double import add_runtime

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


def make_tensorrt(version: str = "10.3.0", cuda=None, dla_cores: int = 0):
    """A ``tensorrt`` double for 8.5.x, 10.x or 11.x, executing engines on ``cuda``'s memory."""
    major = int(version.split(".")[0])
    after_86 = major >= 10  # the doubles cover 8.5, 10.x and 11.x: 8.6 additions are 10+ here
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.calls = []
    trt.calibration_reads = []  # what TensorRT read at each calibration batch (float32, the OPT shape)
    trt.errors = []  # what TensorRT would log at ERROR level
    call = trt.calls.append

    class Logger:
        ERROR, WARNING, INFO, VERBOSE = 1, 2, 3, 4

        def __init__(self, level=2):
            self.level = level

    trt.Logger = Logger
    trt.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")
    # DataType per version (pyFoundationalTypes.cpp): 8.5 has UINT8; 10.x adds INT64, BF16, FP8, INT4.
    dtypes = dict(FLOAT="FLOAT", HALF="HALF", INT32="INT32", INT8="INT8", BOOL="BOOL", UINT8="UINT8")
    if after_86:
        dtypes.update(INT64="INT64", BF16="BF16", FP8="FP8", INT4="INT4")
    trt.DataType = types.SimpleNamespace(**dtypes)
    _np = {"FLOAT": np.float32, "HALF": np.float16, "INT32": np.int32, "INT64": np.int64, "INT8": np.int8,
           "BOOL": np.bool_, "UINT8": np.uint8}

    def nptype(dt):
        # TensorRT 8.5.1 and 8.5.2's tensorrt/__init__.py build their table with np.bool, gone since NumPy
        # 1.24 (NVIDIA/TensorRT#2557); 8.5.3 uses np.bool_.
        if version in ("8.5.1", "8.5.2") and tuple(int(v) for v in np.__version__.split(".")[:2]) >= (1, 24):
            raise AttributeError("module 'numpy' has no attribute 'bool'.")
        return _np[dt]

    trt.nptype = nptype
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")
    trt.DeviceType = types.SimpleNamespace(GPU="GPU", DLA="DLA")
    # NetworkDefinitionCreationFlag (NvInfer.h): 8.5 EXPLICIT_BATCH, EXPLICIT_PRECISION; 10.x EXPLICIT_BATCH
    # (deprecated), STRONGLY_TYPED; 11.x STRONGLY_TYPED alone.
    net_flags = ({"EXPLICIT_BATCH": 0, "EXPLICIT_PRECISION": 1} if major < 10
                 else {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1} if major < 11 else {"STRONGLY_TYPED": 0})
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(**net_flags)
    builder_flags = {"GPU_FALLBACK": "GPU_FALLBACK"}
    if after_86:
        builder_flags["VERSION_COMPATIBLE"] = "VERSION_COMPATIBLE"
    if major < 11:
        builder_flags.update(FP16="FP16", INT8="INT8", OBEY_PRECISION_CONSTRAINTS="OBEY_PRECISION_CONSTRAINTS")
    trt.BuilderFlag = types.SimpleNamespace(**builder_flags)

    if major < 11:
        class IInt8EntropyCalibrator2:
            algorithm = "EntropyCalibration2"

            def __init__(self):
                self._base_init = True

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    def fail(message):
        trt.errors.append(message)
        call(("error", message))
        return None

    ctx = types.SimpleNamespace(version=version, major=major, after_86=after_86, call=call, fail=fail, cuda=cuda,
                                dla_cores=dla_cores, np_types=_np)
    add_builder(trt, ctx)
    add_runtime(trt, ctx)
    return trt
