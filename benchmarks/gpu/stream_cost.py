"""Cost of drawing one training plate (augmentation + preprocessing) per CPU core, by --augment.

This is what bounds training speed on a GPU machine (benchmarks/README.md, "Training on a lent GPU
machine"): one core draws 1000 / (ms per plate) plates a second.

    python benchmarks/gpu/stream_cost.py [--plates 500]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from lpr_edge import synth
from lpr_edge.synth import PlateStyles
from lpr_edge.train.data import PlateStream
from lpr_edge.train.setup import default_spec


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plates", type=int, default=500)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    pool = [synth.render(rng, "us", styles=PlateStyles(emblems=True)) for _ in range(300)]
    images, texts = np.stack([s.image for s in pool]), [s.text for s in pool]
    print(f"{platform.processor() or platform.machine()}; one core; {args.plates} plates, median of 3 runs")
    for augment in ("camera", "world"):
        # 40 % real crops as in training (here pool plates stand in for them; same code path).
        stream = PlateStream(default_spec(), images, texts, list(images[:50]), [[1, 2, 3]] * 50, 0.4, 0,
                             augment=augment)
        it = iter(stream)
        next(it)
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(args.plates):
                next(it)
            runs.append((time.perf_counter() - t) / args.plates * 1000)
        print(f"--augment {augment}: {np.median(runs):.2f} ms per plate")


if __name__ == "__main__":
    main()
