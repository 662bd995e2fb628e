"""How a model reads real crops whose strokes are thicker or thinner than the plates it was trained on:
each crop of the US validation split and of ``openalpr-br`` read as it is, eroded (dark strokes
thicker) and dilated (thinner) by ``lpr_edge.synth.stroke_weight`` (seed 0), first readings with
reframing, no cross-check. ``lpr-edge train --stroke-weight`` trains with the same change.

Reproduce: python benchmarks/stroke_weight_probe.py --model us
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lpr_edge import Recognizer
from lpr_edge.atomic import write_text
from lpr_edge.environment import cpu_model
from lpr_edge.evaluation.datasets import load_images, load_split
from lpr_edge.evaluation.harness import evaluate_images
from lpr_edge.synth.stroke_weight import change_stroke_weight

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SETS = (("US validation", "openalpr-us-states", "val"), ("openalpr-br", "openalpr-br", "all"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="us")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = {"model": args.model, "cpu": cpu_model(), "sets": {}}
    with Recognizer(args.model, cross_check=False) as rec:
        for name, folder, split in SETS:
            samples, _ = load_split(Path(args.data) / folder, split)
            images, kept, _ = load_images(samples)
            rng = np.random.default_rng(0)
            views = {"as it is": images,
                     "thicker (eroded)": [change_stroke_weight(i, rng, erode=True) for i in images],
                     "thinner (dilated)": [change_stroke_weight(i, rng, erode=False) for i in images]}
            row = {k: evaluate_images(rec, v, kept).accuracy.perfect_match for k, v in views.items()}
            out["sets"][name] = row
            print(f"{args.model} on {name} ({len(kept)}): " + ", ".join(f"{k} {v:.2%}" for k, v in row.items()))
    if args.json:
        write_text(args.json, json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
