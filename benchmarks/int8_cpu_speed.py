"""INT8 on the CPU: bare ``session.run`` at batch 32 of the US model in FP32 and of CPU Q/DQ forms, on the
same preprocessed real crops (``openalpr-us-states``), each timed in whole blocks, the blocks alternating.

Reproduce: python benchmarks/int8_cpu_speed.py [CPU_QDQ.onnx ...] [--blocks 5] [--calls 8]
(default: the shipped calibration/lprnet_us.cpu.qdq.onnx; writes benchmarks/results/int8_cpu_speed.json)
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import onnx
import onnxruntime as ort

from lpr_edge.atomic import write_text
from lpr_edge.bundled import resolve_model
from lpr_edge.datasets.folders import load_dataset, load_images
from lpr_edge.environment import cpu_model
from lpr_edge.formats.onnx_spec import spec_from_model
from lpr_edge.runtime.preprocess import preprocess_batch

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=[str(REPO / "calibration" / "lprnet_us.cpu.qdq.onnx")])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "openalpr-us-states"))
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--calls", type=int, default=8)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "int8_cpu_speed.json"))
    args = ap.parse_args()
    fp32 = resolve_model("us")
    spec = spec_from_model(onnx.load(str(fp32)))
    crops = load_images(load_dataset(args.data).samples[:32])[0]
    x = preprocess_batch(crops, spec).copy()
    paths = [str(fp32)] + [str(Path(m).resolve()) for m in args.models]
    sessions = {p: ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in paths}
    times: dict[str, list[float]] = {p: [] for p in paths}
    for _ in range(args.blocks):
        for p, sess in sessions.items():
            names = [o.name for o in sess.get_outputs()]
            sess.run(names, {spec.input_name: x})  # settle after the switch
            for _ in range(args.calls):
                t0 = time.perf_counter()
                sess.run(names, {spec.input_name: x})
                times[p].append((time.perf_counter() - t0) * 1e3)
    base = statistics.median(times[str(fp32)])
    rows = [{"model": p, "batch32_ms_p50": round(statistics.median(t), 3),
             "speedup_vs_fp32": round(base / statistics.median(t), 3), "samples": len(t)} for p, t in times.items()]
    for row in rows:
        print(json.dumps(row))
    write_text(args.out, json.dumps({"machine": f"{cpu_model()}, {platform.machine()}",
                                     "command": "python benchmarks/int8_cpu_speed.py " + " ".join(sys.argv[1:]),
                                     "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
