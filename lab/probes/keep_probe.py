"""Which reading the cross-check should keep where a crop and its padded view read differently: the
crop's own, or the more confident one (``framing["keep"]``, ``lpr_edge.runtime.cross_check``). Reads a
model's own validation split, ``openalpr-br``, ``openalpr-br-context`` cut at 0-25 % margin and 400
held-out synthetic plates of its layout cut at 0/10/20/25 % (seed 20261129, as synth_margins.py),
cross-checked, once with each choice, and prints the crops read right per set.

Reproduce: python benchmarks/keep_probe.py --model us --layout us
           python benchmarks/keep_probe.py --model br --layout br --home openalpr-br-detector
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from lpr_edge import Recognizer
from lpr_edge.atomic import write_text
from lpr_edge.environment import cpu_model
from lpr_edge.evaluation.datasets import Sample, load_images, load_split
from lpr_edge.evaluation.harness import evaluate_images
from lpr_edge.evaluation.margins import boxed, crop_at_margin
from lpr_edge.synth.world import plates_in_context

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
SYNTH_MARGINS = (0.0, 0.1, 0.2, 0.25)
SEED = 20261129


def sets(home: str, layout: str, data: Path) -> dict[str, tuple[list, list]]:
    out = {}
    for name, folder, which in (("validation", home, "val"), ("openalpr-br", "openalpr-br", "all")):
        samples, _ = load_split(data / folder, which)
        images, kept, _ = load_images(samples)
        out[name] = (images, kept)
    samples, _ = load_split(data / "openalpr-br-context", "all")
    images, kept, _ = load_images(boxed(samples))
    for m in MARGINS:
        out[f"context {m:.0%}"] = ([crop_at_margin(i, s.box, m) for i, s in zip(images, kept)], kept)
    plates = plates_in_context(layout, 400, SEED)
    truth = [Sample(Path(f"synthetic-{i}"), text) for i, (*_, text) in enumerate(plates)]
    for m in SYNTH_MARGINS:
        out[f"synthetic {m:.0%}"] = ([crop_at_margin(img, (x0, y0, x1 - x0, y1 - y0), m)
                                      for img, (x0, y0, x1, y1), _ in plates], truth)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="us")
    ap.add_argument("--layout", choices=("us", "br"), default="us")
    ap.add_argument("--home", default="openalpr-us-states", help="the model's training collection (validation side)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    with Recognizer(args.model) as rec:
        spec = rec.spec
    if not spec.framing:
        raise SystemExit(f"{args.model} carries no framing; fit one with lpr-edge framing first")
    right: dict[str, dict[str, int]] = {}
    for name, (images, samples) in sets(args.home, args.layout, Path(args.data)).items():
        right[name] = {"crops": len(samples)}
        for keep in ("own", "confident"):
            with Recognizer(args.model, spec=spec.replace(framing={**spec.framing, "keep": keep})) as rec:
                report = evaluate_images(rec, images, samples)
            right[name][keep] = round(report.accuracy.perfect_match * len(samples))
        r = right[name]
        print(f"{name:15s} {r['own']:5d} -> {r['confident']:5d} of {r['crops']:5d} ({r['confident'] - r['own']:+d})",
              flush=True)
    if args.json:
        write_text(args.json, json.dumps({"model": args.model, "layout": args.layout, "cpu": cpu_model(),
                                          "right": right}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
