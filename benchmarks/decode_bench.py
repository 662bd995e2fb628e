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
from decode_reference import decode_reference  # beside this script

from lpr_edge.atomic import write_text
from lpr_edge.environment import cpu_model
from lpr_edge.runtime.decode import decode_logits, greedy_ctc, max_softmax
from lpr_edge.spec import US_CHARSET


def interleaved_ms(fns: dict, rounds: int, slow: str, slow_every: int = 5) -> dict[str, float]:
    """Median ms of each function, measured in alternating rounds so machine drift hits all alike
    (the slow one runs every ``slow_every`` rounds only)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        for name, fn in fns.items():
            if name == slow and r % slow_every:
                continue
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1e3)
    return {k: float(np.median(v)) for k, v in times.items()}


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def plate_like_logits(rng, n: int, t: int, c: int, chars: int = 7) -> np.ndarray:
    """Logits shaped like a real plate reading: ``chars`` characters, each held for 2 steps, blank between."""
    logits = (rng.normal(size=(n, t, c)) * 2).astype(np.float32)
    steps = np.linspace(1, t - 3, chars).astype(int)
    logits[:, :, c - 1] += 8  # blank
    for s in steps:
        symbol = rng.integers(0, c - 1, size=n)
        logits[np.arange(n), s, symbol] += 12
        logits[np.arange(n), s + 1, symbol] += 12
    return logits


def measure(logits: np.ndarray) -> dict:
    idx, prob = max_softmax(logits)
    ms = interleaved_ms({"vec": lambda: decode_logits(logits, US_CHARSET, 35),
                         "heads": lambda: greedy_ctc([idx.astype(np.int32), prob], _tao_spec()),
                         "loop": lambda: decode_reference(logits, US_CHARSET, 35)}, rounds=100, slow="loop")
    chars = float(np.mean([len(r.text) for r in decode_logits(logits, US_CHARSET, 35)]))
    return {"chars_per_plate": chars, "loop_ms": ms["loop"], "vectorised_logits_ms": ms["vec"],
            "vectorised_argmax_max_ms": ms["heads"], "speedup_logits": ms["loop"] / ms["vec"]}


def main() -> int:
    rng = np.random.default_rng(0)
    N, T, C = 256, 24, 36
    random_logits = (rng.normal(size=(N, T, C)) * 4).astype(np.float32)
    random_logits[:, :, 35] += 3
    result = {
        "machine": f"{cpu_model()}, {platform.machine()}, python {platform.python_version()}",
        "shape": [N, T, C],
        # worst case for the vectorised decoder: most steps emit a character
        "random_logits": measure(random_logits),
        "plate_like_logits": measure(plate_like_logits(rng, N, T, C)),
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
