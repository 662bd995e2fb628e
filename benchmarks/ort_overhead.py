"""The toolkit's end-to-end cost over the bare model: Recognizer.recognize_batch (crops in, strings
out) against a plain ONNX Runtime session.run on already-preprocessed input, both at batch 32, in
one run. Target: end-to-end throughput within 1.3x of the bare model time, for the same work (one
pass per crop: reframing and the cross-check off). The default path (loose crops read again, every
crop also read padded) is timed in the same run and reported beside it: that is more work, not overhead.

Reproduce: python benchmarks/ort_overhead.py [--model M] [--iters 30]
Writes benchmarks/results/ort_overhead.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from lpr_edge import Recognizer
from lpr_edge.atomic import write_text
from lpr_edge.environment import cpu_model
from lpr_edge.runtime.preprocess import preprocess_batch
from lpr_edge.synth import generate


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    crops = [p.image for p in generate(args.batch, seed=5)]
    with Recognizer(args.model, max_batch=args.batch, reframe=False, cross_check=False) as rec, \
            Recognizer(args.model, max_batch=args.batch) as default:
        x = preprocess_batch(crops, rec.spec).copy()
        sess = ort.InferenceSession(str(rec.model_path), providers=["CPUExecutionProvider"])
        bare, e2e, full = [], [], []
        # Alternating blocks: all see the same machine state, and ONNX Runtime's spinning worker
        # threads of one session do not steal the first iterations of another.
        block = 5
        for _ in range(max(1, args.iters // block)):
            for times, call in ((bare, lambda: sess.run(list(rec.spec.outputs), {rec.spec.input_name: x})),
                                (e2e, lambda: rec.recognize_batch(crops)),
                                (full, lambda: default.recognize_batch(crops))):
                call()  # settle after the switch
                for _ in range(block):
                    t = time.perf_counter()
                    call()
                    times.append((time.perf_counter() - t) * 1e3)
        model = str(rec.model_path)
    b, e, f = float(np.median(bare)), float(np.median(e2e)), float(np.median(full))
    result = {"machine": cpu_model(), "model": model, "batch": args.batch, "iters": args.iters,
              "bare_session_run_ms_p50": round(b, 3), "end_to_end_ms_p50": round(e, 3), "ratio": round(e / b, 3),
              "bare_plates_s": round(args.batch / b * 1e3, 1), "end_to_end_plates_s": round(args.batch / e * 1e3, 1),
              "within_1.3x": e / b <= 1.3,
              "default_path_ms_p50": round(f, 3), "default_path_plates_s": round(args.batch / f * 1e3, 1),
              "default_path_vs_bare": round(f / b, 3)}
    write_text(Path(__file__).parent / "results" / "ort_overhead.json", json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
