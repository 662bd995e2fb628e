"""How a model reads synthetic US plates with and without one plate style (printed pictures, Hershey
stroke fonts, plain-bar ones, stacked small characters), the same texts and seeds both ways: 400 flat
plates with camera effects (strength 0.5), drawn from seeds 900000, 900001, ... (for plain ones only the
seeds whose text has a ``1``), read with reframing (the default) and without the cross-check. Says
whether a style is a failure mode of a model before training on it (models README, "Printed pictures",
"Stroke fonts", "Plain ones", "Stacked characters").

Reproduce: python benchmarks/synth_style_probe.py --model us --style graphics
           python benchmarks/synth_style_probe.py --model us --style stroke_fonts
           python benchmarks/synth_style_probe.py --model us --style plain_ones
           python benchmarks/synth_style_probe.py --model us --style stacked
"""
from __future__ import annotations

import argparse
import itertools

import numpy as np

from lpr_edge import Recognizer, synth
from lpr_edge.environment import cpu_model
from lpr_edge.synth import PlateStyles
from lpr_edge.synth.plates import random_text, render_clean


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="us")
    ap.add_argument("--style", choices=[f.name for f in PlateStyles.shares() if f.metadata["layout"] == "us"],
                    default="graphics")
    ap.add_argument("--plates", type=int, default=400)
    args = ap.parse_args()
    with Recognizer(args.model, cross_check=False) as rec:
        for share in (0.0, 1.0):
            crops, texts = [], []
            for seed in itertools.count(900000):
                if len(crops) == args.plates:
                    break
                rng = np.random.default_rng(seed)
                text = random_text(rng)
                if args.style == "plain_ones" and "1" not in text:
                    continue
                plate = render_clean(rng, text=text, styles=PlateStyles(emblems=True, **{args.style: share}))
                crops.append(synth.camera_effects(plate.image, rng, 0.5))
                texts.append(plate.text)
            right = np.mean([r.text == t for r, t in zip(rec.recognize_batch(crops), texts)])
            print(f"{args.model}: {args.style} {share:g}: {right:.2%} of {args.plates} plates ({cpu_model()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
