"""Vectorised greedy CTC decoder vs the plain per-plate Python loop, and vs CPU inference time.

Reproduce: python benchmarks/decode_bench.py  (writes benchmarks/results/decode.json)
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from lpr_edge.atomic import write_text
from lpr_edge.decode import decode_logits, decode_reference, greedy_ctc, max_softmax
from lpr_edge.environment import cpu_model
from lpr_edge.spec import US_CHARSET


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def main() -> int:
    rng = np.random.default_rng(0)
    N, T, C = 256, 24, 36
    logits = (rng.normal(size=(N, T, C)) * 4).astype(np.float32)
    logits[:, :, 35] += 3
    idx, prob = max_softmax(logits)
    vec = median_ms(lambda: decode_logits(logits, US_CHARSET, 35), 50)
    heads = median_ms(lambda: greedy_ctc([idx.astype(np.int32), prob], _tao_spec()), 50)
    loop = median_ms(lambda: decode_reference(logits, US_CHARSET, 35), 5)
    result = {
        "machine": f"{cpu_model()}, {platform.machine()}, python {platform.python_version()}",
        "shape": [N, T, C],
        "loop_ms": loop, "vectorised_logits_ms": vec, "vectorised_argmax_max_ms": heads,
        "speedup_logits": loop / vec,
    }
    model = Path(__file__).resolve().parents[1] / "lpr_edge" / "models" / "lprnet_us.onnx"
    if model.exists():
        import onnxruntime as ort

        sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        x = rng.random((32, 3, 48, 96), dtype=np.float32)
        outs = sess.run(None, {"image_input": x})
        infer = median_ms(lambda: sess.run(None, {"image_input": x}), 20)
        dec32 = median_ms(lambda: greedy_ctc(outs, _tao_spec()), 50)
        result.update({"batch32_infer_ms": infer, "batch32_decode_ms": dec32,
                       "decode_share_of_infer": dec32 / infer})
    out = Path(__file__).parent / "results" / "decode.json"
    write_text(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def _tao_spec():
    from lpr_edge.spec import preset

    return preset("tao-us")


if __name__ == "__main__":
    sys.exit(main())
