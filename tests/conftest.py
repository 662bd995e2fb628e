"""Shared fixtures: small real ONNX models built with onnx.helper, and the shared plate data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lpr_edge.formats.onnx_spec import embed_spec
from lpr_edge.spec import ModelSpec

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
US_DATA = SHARED_DATA / "openalpr-us-states"
BR_DATA = SHARED_DATA / "openalpr-br"
CCPD_DATA = SHARED_DATA / "lprnet-pytorch-ccpd"

# Colour-coded toy model: a plate is T vertical bands; a band's mean colour picks its class.
TOY_CHARSET = "ABC"
TOY_COLOURS_RGB = {"A": (255, 0, 0), "B": (0, 255, 0), "C": (0, 0, 255), "": (0, 0, 0)}


def toy_spec(output_kind="logits", layout="NCT", blank=3, color="RGB", time_steps=8, height=16, width=32) -> ModelSpec:
    outputs = ("logits",) if output_kind == "logits" else ("indices", "scores")
    return ModelSpec(name="toy", input_name="image", height=height, width=width, color=color,
                     output_kind=output_kind, outputs=outputs, logits_layout=layout, time_steps=time_steps,
                     charset=TOY_CHARSET, blank=blank)


def build_toy_model(spec: ModelSpec, embed: bool = True) -> onnx.ModelProto:
    """Bands -> AveragePool -> 1x1 Conv scoring each class -> logits (or ArgMax/Max heads)."""
    T, H, W = spec.time_steps, spec.height, spec.width
    C = spec.num_classes
    symbols = spec.class_symbols
    # Input is (x/255) per channel in model colour order; a class's weight vector is its colour.
    w = np.zeros((C, 3, 1, 1), np.float32)
    b = np.zeros((C,), np.float32)
    for k, sym in enumerate(symbols):
        rgb = np.array(TOY_COLOURS_RGB[sym], np.float32) / 255
        col = rgb if spec.color == "RGB" else rgb[::-1]
        w[k, :, 0, 0] = 8 * (2 * col - 1)
        b[k] = 4.0 if sym == "" else 0.0
    nodes = [
        helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[H, W // T], strides=[H, W // T]),
        helper.make_node("Conv", ["pooled", "w", "b"], ["conv"]),          # [N, C, 1, T]
        helper.make_node("Squeeze", ["conv", "axes2"], ["nct"]),           # [N, C, T]
    ]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.array([2], np.int64), "axes2")]
    if spec.output_kind == "logits":
        if spec.logits_layout == "NCT":
            nodes.append(helper.make_node("Identity", ["nct"], ["logits"]))
            out_shape = ["N", C, T]
        else:
            nodes.append(helper.make_node("Transpose", ["nct"], ["logits"], perm=[0, 2, 1]))
            out_shape = ["N", T, C]
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, out_shape)]
    else:
        nodes += [
            helper.make_node("Softmax", ["nct"], ["probs"], axis=1),
            helper.make_node("ArgMax", ["probs"], ["idx64"], axis=1, keepdims=0),
            helper.make_node("Cast", ["idx64"], ["indices"], to=TensorProto.INT32),
            helper.make_node("ReduceMax", ["probs"], ["scores"], keepdims=0, axes=[1]),
        ]
        outputs = [helper.make_tensor_value_info("indices", TensorProto.INT32, ["N", T]),
                   helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", T])]
    graph = helper.make_graph(nodes, "toy", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, H, W])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    if embed:
        embed_spec(model, spec)
    return model


def toy_crop(text_per_band: list[str], spec: ModelSpec, scale: int = 3) -> np.ndarray:
    """A BGR crop whose bands carry the given symbols ('' = blank band), drawn larger than the input."""
    T, H, W = spec.time_steps, spec.height, spec.width
    img = np.zeros((H * scale, W * scale, 3), np.uint8)
    band = W * scale // T
    for t, sym in enumerate(text_per_band):
        r, g, b = TOY_COLOURS_RGB[sym]
        img[:, t * band:(t + 1) * band] = (b, g, r)
    return img


BANDS = ["A", "A", "", "B", "C", "C", "", "A"]  # a toy plate that reads "ABCA"


def toy_model_and_crops(tmp_path, n: int = 24, kind: str = "argmax_max"):
    """A toy ONNX file, its spec and ``n`` seeded random toy crops."""
    spec = toy_spec(kind)
    path = tmp_path / "toy.onnx"
    onnx.save(build_toy_model(spec), path)
    rng = np.random.default_rng(0)
    crops = [toy_crop([["A", "B", "C", ""][i] for i in rng.integers(0, 4, 8)], spec) for _ in range(n)]
    return path, spec, crops


def run_threads(worker, count: int = 8, timeout: float = 60) -> list:
    """Run ``worker(k)`` on ``count`` threads; returns the threads still alive after ``timeout``."""
    import threading

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return [t for t in threads if t.is_alive()]


@pytest.fixture
def toy_model_path(tmp_path):
    spec = toy_spec()
    path = tmp_path / "toy.onnx"
    onnx.save(build_toy_model(spec), path)
    return path


def need(path: Path):
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data is not beside the checkout)")
    return path


def crops_read_again(rec, images) -> set[int]:
    """The crops whose first reading ``rec``'s framing cuts tighter (or extends) for a second one, worked
    out from the backend's outputs as the Recognizer works it out."""
    from lpr_edge.runtime import reframe
    from lpr_edge.runtime.decode import greedy_ctc, step_classes
    from lpr_edge.runtime.preprocess import preprocess_batch

    spec, again = rec.spec, set()
    for start in range(0, len(images), rec.max_batch):
        chunk = images[start:start + rec.max_batch]
        outputs = rec._backend.infer(preprocess_batch(chunk, spec)).outputs
        results = greedy_ctc(outputs, spec, 0, rec.probabilities)
        cuts = reframe.windows([c.shape for c in chunk], step_classes(outputs, spec), results, spec.framing,
                               spec.blank)
        again |= {start + i for i, window in enumerate(cuts) if window is not None}
    return again
