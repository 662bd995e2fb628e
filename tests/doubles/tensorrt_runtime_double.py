"""The ``tensorrt`` double's runtime side: ``IRuntime.DLA_core`` defaults to -1, ``set_input_shape``
returns False outside the profile (and enqueue then fails), engines execute the ONNX they were
built from with ONNX Runtime on the bytes at the bound device addresses."""
from __future__ import annotations

import json

import numpy as np

from .pycuda_double import LogicError


def add_runtime(trt, ctx) -> None:
    """Runtime, engine and execution context: engines run with ONNX Runtime on the double's device memory."""
    after_86, call, fail, cuda, _np = ctx.after_86, ctx.call, ctx.fail, ctx.cuda, ctx.np_types

    class Engine:
        def __init__(self, header, onnx_bytes):
            import onnx
            import onnxruntime as ort

            self.header = header
            model = onnx.load_from_string(onnx_bytes)
            if "FP16" in header["flags"] and not header["quantized"]:
                # The FP16 flag lets TensorRT run any layer in FP16 but those pinned to FP32 (and obeyed):
                # the engine runs so here, with ONNX Runtime's converter, so precision bugs show on the CPU.
                from onnxruntime.transformers.float16 import convert_float_to_float16

                from lpr_edge.toolchain.onnx_prep import drop_fp16_round_trips

                half = convert_float_to_float16(model, keep_io_types=True, op_block_list=["ArgMax", "TopK", "Cast"],
                                                node_block_list=header.get("fp32_layers", []))
                drop_fp16_round_trips(half)  # the converter's casts behind FP32 layers; TensorRT has none
                onnx_bytes = half.SerializeToString()
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
                if name in self.engine.header.get("fp16_outputs", ()):
                    value = value.astype(np.float16)  # what an FP16 layer hands its FP32 output (ONNX Runtime's
                    # own FP16 graphs compute such layers in FP32 and drop the rounding casts)
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
