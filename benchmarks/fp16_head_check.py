"""TensorRT 11's FP16 form of the bundled US model against the FP32 model, on 1,000 real crops, in ONNX
Runtime on the CPU: the same ArgMax, and how far the probabilities move (the head runs in FP32; the body in
FP16). The same with the converter's FP16 round trips left in, as before they were removed.

Reproduce: python benchmarks/fp16_head_check.py   (writes benchmarks/results/fp16_head.json)
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import onnxruntime as ort

from lpr_edge.atomic import write_text
from lpr_edge.datasets import load_dataset, load_images
from lpr_edge.environment import cpu_model
from lpr_edge.formats.onnx_spec import load_onnx, resolve_spec
from lpr_edge.runtime.preprocess import preprocess_batch
from lpr_edge.toolchain import onnx_prep

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def crops(n: int = 1000) -> list:
    """The first ``n`` readable crops of the US collection, then the Brazilian ones."""
    images = []
    for name in ("openalpr-us-states", "openalpr-br", "openalpr-br-detector"):
        images += load_images(load_dataset(DATA / name).samples)[0]
    return images[:n]


def main() -> None:
    model = load_onnx(REPO / "lpr_edge" / "models" / "lprnet_us.onnx")
    spec = resolve_spec(model, source="us")
    fp32 = onnx_prep.prepare(model, spec, simplify=True)
    fp16 = onnx_prep.to_fp16(fp32, spec)
    real = onnx_prep.drop_fp16_round_trips
    onnx_prep.drop_fp16_round_trips = lambda m: 0  # the form before the round trips were removed
    try:
        before = onnx_prep.to_fp16(fp32, spec)
    finally:
        onnx_prep.drop_fp16_round_trips = real
    images = crops()
    x = preprocess_batch(images, spec)
    names = [*spec.outputs, "/Softmax_output_0"]
    runs = {k: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            .run(names, {spec.input_name: x}) for k, m in (("fp32", fp32), ("fp16", fp16), ("fp16_before", before))}
    report = {"machine": f"{cpu_model()}, {platform.machine()}", "crops": len(images), "onnxruntime": ort.__version__}
    for form in ("fp16", "fp16_before"):
        idx, top, probs = runs[form]
        report[form] = {"argmax_equal": float((idx == runs["fp32"][0]).mean()),
                        "probabilities_max_abs_diff": float(np.abs(probs - runs["fp32"][2]).max()),
                        "max_score_max_abs_diff": float(np.abs(top - runs["fp32"][1]).max()),
                        "probabilities_zero": int((probs == 0).sum()), "probabilities": int(probs.size)}
    report["fp32_probabilities_zero"] = int((runs["fp32"][2] == 0).sum())
    text = json.dumps(report, indent=2)
    write_text(REPO / "benchmarks" / "results" / "fp16_head.json", text + "\n")
    print(text)


if __name__ == "__main__":
    main()
