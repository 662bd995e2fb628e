"""Two Recognizers in one process (``us`` and ``br``, as a robot reading two regions, or one beside a
detector's session), called in turn: plates/s of each alone and side by side, with ONNX Runtime's
worker threads spinning between runs (the default) and not (``spin=False``). Whole blocks are timed;
two sessions are never timed against each other call by call.

Reproduce: python benchmarks/side_by_side.py [--batch 1,32] [--seconds 4]
(writes benchmarks/results/side_by_side.json; efficiency 1.0 = the two share the cores with no loss)
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from lpr_edge import Recognizer
from lpr_edge.atomic import write_text
from lpr_edge.environment import cpu_model
from lpr_edge.evaluation.harness import synthetic_sample_set


def rate(calls, seconds: float) -> float:
    """Calls per second of ``calls()`` (one call reads one batch), over ``seconds`` after a warm-up."""
    for _ in range(3):
        calls()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        calls()
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", default="1,32")
    p.add_argument("--seconds", type=float, default=4.0)
    args = p.parse_args()
    crops = synthetic_sample_set().images
    rows = []
    for spin in (True, False):
        with Recognizer("us", spin=spin) as us, Recognizer("br", spin=spin) as br:
            for batch in [int(b) for b in args.batch.split(",")]:
                chunk = (crops * 4)[:batch]
                alone_us = rate(lambda: us.recognize_batch(chunk), args.seconds) * batch
                alone_br = rate(lambda: br.recognize_batch(chunk), args.seconds) * batch
                both = rate(lambda: (us.recognize_batch(chunk), br.recognize_batch(chunk)), args.seconds) * batch
                # without interference, calls in turn would each get 1 / (1/us + 1/br) plates/s
                ideal = 1 / (1 / alone_us + 1 / alone_br)
                rows.append({"spin": spin, "batch": batch, "us_alone": round(alone_us, 1),
                             "br_alone": round(alone_br, 1), "each_side_by_side": round(both, 1),
                             "without_interference": round(ideal, 1), "efficiency": round(both / ideal, 3)})
                print(rows[-1], flush=True)
    report = {"machine": f"{cpu_model()}, {platform.machine()}", "seconds": args.seconds, "rows": rows}
    write_text(Path(__file__).parent / "results" / "side_by_side.json", json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
