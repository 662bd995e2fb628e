"""Resident memory of a Recognizer over many calls: it must stay flat (growth under 5%).

Reproduce: python benchmarks/memory_bench.py [--calls 10000] [--model M]
Writes benchmarks/results/memory.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from lpr_edge import Recognizer
from lpr_edge.atomic import write_text
from lpr_edge.environment import cpu_model
from lpr_edge.synth import generate


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    crops = [p.image for p in generate(16, seed=3)]
    samples = []
    with Recognizer(args.model, max_batch=8) as rec:
        for i in range(args.warmup):
            rec.recognize_batch(crops[i % 16: i % 16 + 1 + i % 8])
        base = rss_mib()
        for i in range(args.calls):
            rec.recognize_batch(crops[i % 16: i % 16 + 1 + i % 8])  # batch sizes 1..8 mixed
            if (i + 1) % 1000 == 0:
                samples.append((i + 1, rss_mib()))
        model = str(rec.model_path)
    growth = (samples[-1][1] - base) / base
    result = {"machine": cpu_model(), "model": model, "calls": args.calls, "warmup": args.warmup,
              "rss_after_warmup_mib": round(base, 1), "rss_samples_mib": [[c, round(r, 1)] for c, r in samples],
              "growth": round(growth, 4), "flat (<5%)": growth < 0.05}
    write_text(Path(__file__).parent / "results" / "memory.json", json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if growth < 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
