"""The ``tensorrt`` double's builder side: a config that refuses names its version lacks, cache
header matching and calibration at the OPT shape, DLA rules; an engine is the ONNX it was given
plus a JSON header (profiles, flags, DLA core)."""
from __future__ import annotations

import json
import types

import numpy as np

from .tensorrt_double_base import version_code


def add_builder(trt, ctx) -> None:
    """Builder, config, profiles, parser and calibration as each version behaves."""
    major, after_86, version, call, fail, cuda, dla_cores = (ctx.major, ctx.after_86, ctx.version, ctx.call, ctx.fail,
                                                            ctx.cuda, ctx.dla_cores)
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

        # As TensorRT: create_timing_cache may return None (trtexec checks); set_timing_cache returns False
        # for a cache made on another device or TensorRT (dropped, not raised); get_timing_cache is None
        # when no cache was set. Blobs starting "unreadable" / "other-device" stand for those files.
        def create_timing_cache(self, blob):
            call(("create_timing_cache", bytes(blob)))
            if bytes(blob).startswith(b"unreadable"):
                return None
            return types.SimpleNamespace(serialize=lambda: b"fake-timing-cache", blob=bytes(blob))

        def set_timing_cache(self, cache, ignore_mismatch):
            if cache.blob.startswith(b"other-device") and not ignore_mismatch:
                return False
            object.__setattr__(self, "_timing", cache)
            return True

        def get_timing_cache(self):
            return getattr(self, "_timing", None)

        def can_run_on_DLA(self, layer):
            return layer.type != "TOPK"

    if major < 11:
        def set_calibration_profile(self, profile):
            object.__setattr__(self, "calibration_profile", profile)
            call(("set_calibration_profile", profile.shapes))

        IBuilderConfig.set_calibration_profile = set_calibration_profile
    trt.IBuilderConfig = IBuilderConfig

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
            call(("cache_tensors", sorted(line.split(":", 1)[0] for line in bytes(cache).decode().splitlines()[1:])))
            return True
        call(("calibrating", "no cache" if cache is None else "cache header does not match " + expected))
        profile = config.calibration_profile or config.profiles[0]
        (name, (_, opt, _)), = profile.shapes.items()
        if calib.get_batch_size() != opt[0]:
            return fail(f"calibration batch size {calib.get_batch_size()} does not match the OPT shape {opt}")
        # TensorRT cannot know how much of a buffer was filled: it reads the OPT batch's bytes at each
        # pointer, stale rows included, and calibrates on them. What it read is kept (trt.calibration_reads)
        # so a test can compare it with the crops; only a read past the allocation is a fault.
        row_bytes = int(np.prod(opt[1:])) * 4
        batches = 0
        while True:
            pointers = calib.get_batch([name])
            if not pointers:
                break
            if cuda is not None:
                memory = cuda.device_bytes(pointers[0])
                if memory.size < opt[0] * row_bytes:
                    return fail(f"an illegal memory access: the calibration buffer at {pointers[0]:#x} has "
                                f"{memory.size} bytes, the OPT shape {opt} reads {opt[0] * row_bytes}")
                trt.calibration_reads.append(memory[: opt[0] * row_bytes].view(np.float32).reshape(opt).copy())
            batches += 1
        if batches == 0:
            return fail("Calibration failure occurred with no scaling factors detected")
        call(("calibrated", batches))
        calib.write_calibration_cache(memoryview(expected.encode() + b"\n"))
        return True

    def check_dla(config, network):
        if config.values.get("default_device_type") != "DLA":
            return True
        if "GPU_FALLBACK" not in config.flags and any(not config.can_run_on_DLA(layer) for layer in network.layers):
            return fail("a layer cannot run on DLA and GPU fallback is off")
        mn, opt, mx = next(iter(config.profiles[0].shapes.values()))
        if not mn == opt == mx:
            return fail("DLA does not support dynamic shapes: MIN, OPT and MAX must be equal")
        if not {"FP16", "INT8"} & config.flags and major < 11:
            return fail("DLA runs FP16 or INT8 only")
        return True

    def fp32_layers(config, network):
        """Layers pinned to FP32, where the builder is told to obey."""
        return [layer.name for layer in network.layers
                if layer.precision == "FLOAT" and "OBEY_PRECISION_CONSTRAINTS" in config.flags]

    def fp16_outputs(config, network, model):
        """Float outputs of an FP16-flag engine whose layer is not pinned to FP32: TensorRT may run that
        layer in FP16, so its values come out rounded to FP16 (the worst case, modelled)."""
        if "FP16" not in config.flags or any(n.op_type == "QuantizeLinear" for n in model.graph.node):
            return []
        producer = {out: n.name or n.op_type for n in model.graph.node for out in n.output}
        pinned = set(fp32_layers(config, network))
        return [o.name for o in model.graph.output
                if o.type.tensor_type.elem_type == 1 and producer.get(o.name) not in pinned]

    class Profile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, mn, opt, mx):
            self.shapes[name] = (tuple(mn), tuple(opt), tuple(mx))

    # How the ONNX parser turns nodes into layers, as far as DLA cares: ArgMax becomes a TopK
    # (onnx-tensorrt importerUtils.cpp), which DLA cannot run (absent from TensorRT's DLA layer list).
    layer_types = {"ArgMax": "TOPK", "ReduceMax": "REDUCE", "Softmax": "SOFTMAX", "Conv": "CONVOLUTION"}
    trt.LayerType = types.SimpleNamespace(**{v: v for v in set(layer_types.values())}, ELEMENTWISE="ELEMENTWISE")

    class Layer:
        def __init__(self, name, type_):
            self.name, self.type = name, type_
            self.precision = None  # unset: TensorRT picks among the enabled precisions
            self.num_outputs = 2 if type_ == "TOPK" else 1
            self.output_types = {}

        def set_output_type(self, index, dtype):
            if not 0 <= index < self.num_outputs:
                raise IndexError(index)
            self.output_types[index] = dtype

    class Tensor:
        def __init__(self, name, dtype):
            self.name, self.dtype = name, dtype

    # onnx-tensorrt's convertDtype: TensorRT before 10 has no INT64, so the parser makes INT64 tensors INT32.
    onnx_to_trt = {1: "FLOAT", 10: "HALF", 6: "INT32", 7: "INT64" if major >= 10 else "INT32", 3: "INT8", 2: "UINT8",
                   9: "BOOL"}

    class Network:
        def __init__(self, flags):
            self.flags = flags
            self.onnx = None
            self.layers = []
            self.outputs = []

        @property
        def num_outputs(self):
            return len(self.outputs)

        def get_output(self, i):
            return self.outputs[i]

        @property
        def num_layers(self):
            return len(self.layers)

        def get_layer(self, i):
            return self.layers[i]

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
            if not check_dla(config, network):
                return None
            if major < 11 and "INT8" in config.flags and not quantized and not calibrate(config, model):
                return None
            call(("build", sorted(config.flags), quantized))
            call(("pinned", sorted((layer.name, layer.precision) for layer in network.layers if layer.precision)))
            dla = config.values.get("DLA_core") if config.values.get("default_device_type") == "DLA" else None
            header = {"version": version, "profiles": [p.shapes for p in config.profiles],
                      "flags": sorted(config.flags), "quantized": quantized, "dla_core": dla,
                      "fp32_layers": fp32_layers(config, network), "fp16_outputs": fp16_outputs(config, network, model)}
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
            graph = onnx.load_from_string(bytes(data)).graph
            self.network.layers = [Layer(n.name or n.op_type, layer_types.get(n.op_type, "ELEMENTWISE"))
                                   for n in graph.node]
            self.network.outputs = [Tensor(o.name, getattr(trt.DataType, onnx_to_trt[o.type.tensor_type.elem_type]))
                                    for o in graph.output]
            return True

        @property
        def num_errors(self):
            return len(self.errors)

        def get_error(self, i):
            return self.errors[i]

    trt.OnnxParser = OnnxParser
