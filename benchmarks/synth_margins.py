"""The margin curve of a model on held-out synthetic plates of its own region: plates of a layout in
surroundings (car body, frame, light and camera effects as training draws them; seed 20261129, which
no training run and not ``lpr-edge framing``'s choice of margin draws), cut at 0-25 % of the plate per
side around the plate box as a detector would, read with and without reframing, and how far the
confidence can be trusted there (coverage at 99 % precision) with and without the cross-check.

``openalpr-br-context`` is the only real set with plate boxes, and it holds Brazilian plates; this
says whether a model's margin curve there is about margins or about the region.

Reproduce: python benchmarks/synth_margins.py --model us --layout us --json benchmarks/results/synth_margins_us.json
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from lpr_edge import Recognizer
from lpr_edge.atomic import write_text
from lpr_edge.environment import cpu_model
from lpr_edge.evaluation.margins import crop_at_margin
from lpr_edge.evaluation.risk import risk_coverage
from lpr_edge.synth.world import plates_in_context

MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
SEED = 20261129


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="us")
    ap.add_argument("--layout", choices=("us", "br"), default="us")
    ap.add_argument("--plates", type=int, default=400)
    ap.add_argument("--graphics", type=float, default=0.0,
                    help="share of US plates with a printed picture beside or behind the characters "
                         "(lpr-edge train --synth-graphics draws the same style, so not held out for such a run)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    plates = plates_in_context(args.layout, args.plates, SEED, graphics=args.graphics)
    out = {"model": args.model, "layout": args.layout, "plates": args.plates, "seed": SEED, "cpu": cpu_model(),
           "graphics": args.graphics, "margins": list(MARGINS)}
    crops = {m: [crop_at_margin(img, (x0, y0, x1 - x0, y1 - y0), m) for img, (x0, y0, x1, y1), _ in plates]
             for m in MARGINS}
    for reframe, cross_check in ((False, False), (True, False), (True, True)):
        with Recognizer(args.model, reframe=reframe, cross_check=cross_check) as rec:
            labels = [rec.spec.normalise_label(text) for _, _, text in plates]
            accuracy, coverage = [], []
            for m in MARGINS:
                results = rec.recognize_batch(crops[m])
                right = [r.text == t for r, t in zip(results, labels)]
                accuracy.append(float(np.mean(right)))
                coverage.append(risk_coverage([r.confidence for r in results], right).coverage_at_target)
        key = "cross_checked" if cross_check else "reframed" if reframe else "first"
        out[key] = {"perfect_match": accuracy, "coverage_at_99": coverage}
        print(f"{args.model} on {args.plates} synthetic {args.layout} plates"
              + (f" ({args.graphics:.0%} with pictures)" if args.graphics else "") + f", {key:13s}: "
              + " / ".join(f"{a:.1%}" for a in accuracy) + f"  (worst vs best {min(accuracy) - max(accuracy):+.1%}); "
              "99 % precision at " + " / ".join(f"{c:.1%}" for c in coverage) + " coverage")
    if args.json:
        write_text(args.json, json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
