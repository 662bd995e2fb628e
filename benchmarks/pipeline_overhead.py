"""What the Recognizer costs around the network, on tight real crops: median ``recognize()`` (batch 1)
and ``recognize_batch`` (batch 32) of a default Recognizer against the median bare ``session.run`` of the
same model on input already preprocessed, for the FP32 model and its INT8 CPU form; with the stage times.

Each side is timed in whole blocks (ONNX Runtime's threads spin after each run, so two sessions are never
interleaved call by call); the blocks alternate so both see the same machine state.

Reproduce: python benchmarks/pipeline_overhead.py [--blocks 6] [--calls 150]
(writes benchmarks/results/pipeline_overhead.json; targets: batch 1 overhead <= 0.15 ms, batch 32 <= 1.10x;
outside_network_ms: each call's time outside its network runs, median, the steadier measure of the overhead)
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import onnxruntime as ort

from lpr_edge import Recognizer
from lpr_edge.atomic import write_text
from lpr_edge.bundled import resolve_model
from lpr_edge.datasets.folders import load_dataset, load_images
from lpr_edge.environment import cpu_model
from lpr_edge.runtime.preprocess import preprocess_batch

REPO = Path(__file__).resolve().parents[1]
# (form, model, Recognizer options): the default Recognizer, and at batch 32 also without the second pass
# that re-reads loose crops (more network work, not overhead)
FORMS = [("fp32", "us", {}), ("int8-cpu", str(REPO / "calibration" / "lprnet_us.cpu.qdq.onnx"), {}),
         ("fp32 first pass only", "us", {"reframe": False})]


def timed(call, n: int, inside=None) -> list[float]:
    """Milliseconds of ``n`` calls; with ``inside`` (a Recognizer), each call's time outside its network run."""
    call()  # settle after the switch from the other side
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        ms = (time.perf_counter() - t0) * 1e3
        out.append(ms if inside is None else ms - sum(v for k, v in inside.last_timings.items() if k == "infer"))
    return out


def measure(model: str, options: dict, crops: list, batch: int, blocks: int, calls: int) -> dict:
    with Recognizer(model, max_batch=32, **options) as rec:
        session = ort.InferenceSession(str(resolve_model(model)), providers=["CPUExecutionProvider"])
        outputs = list(rec.spec.outputs)
        chunks = [crops[i:i + batch] for i in range(0, len(crops) - batch + 1, batch)]
        inputs = [preprocess_batch(c, rec.spec).copy() for c in chunks]
        bare, e2e, outside, stages = [], [], [], {}
        k = iter(range(10 ** 9))
        for _ in range(blocks):
            bare += timed(lambda: session.run(outputs, {rec.spec.input_name: inputs[next(k) % len(inputs)]}), calls)
            e2e += timed(lambda: rec.recognize_batch(chunks[next(k) % len(chunks)]), calls)
            outside += timed(lambda: rec.recognize_batch(chunks[next(k) % len(chunks)]), calls, inside=rec)
            for stage, ms in rec.last_timings.items():
                stages.setdefault(stage, []).append(ms)
    b, e = statistics.median(bare), statistics.median(e2e)
    # the difference of two medians carries the network's own jitter between blocks; the time each call
    # spends outside its network run (the second pass of re-read crops included) does not
    return {"batch": batch, "bare_ms_p50": round(b, 4), "recognizer_ms_p50": round(e, 4),
            "overhead_ms": round(e - b, 4), "ratio": round(e / b, 3),
            "outside_network_ms_p50": round(statistics.median(outside), 4),
            "stages_ms_last_call": {s: round(statistics.median(v), 4) for s, v in stages.items()},
            "samples_each": len(bare)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "openalpr-us-states"))
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--calls", type=int, default=150)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "pipeline_overhead.json"))
    args = ap.parse_args()
    samples = load_dataset(args.data).samples[:256]
    crops = load_images(samples)[0]
    rows = []
    for form, model, options in FORMS:
        for batch, calls in ((1, args.calls), (32, max(5, args.calls // 15))):
            if options and batch == 1:
                continue
            row = {"form": form, **measure(model, options, crops, batch, args.blocks, calls)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = {"machine": f"{cpu_model()}, {platform.machine()}", "data": Path(args.data).name,
              "crops": len(crops), "command": "python benchmarks/pipeline_overhead.py " + " ".join(sys.argv[1:]),
              "rows": rows}
    write_text(args.out, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
