"""What a re-read gate (the framing's ``reread_below``) would keep and save, for any framed model: on
the synthetic loose crops ``lpr-edge framing`` fits on (seed 20261128, 0-25 % margin) and on the
validation crops, the crops read right and the share read a second time when only first readings
less sure than each gate are re-read (every crop the framing would move, without a gate). Read from
two passes (first readings, and every crop reframed), so the gate's own setting in the model's
framing is ignored.

Reproduce: python benchmarks/gate_probe.py --model runs/us/wsp1/framed.onnx
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from lpr_edge import Recognizer
from lpr_edge.evaluation.datasets import load_images, load_split
from lpr_edge.evaluation.framing import loose_crops
from lpr_edge.runtime import reframe

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
GATES = (0.5, 0.8, *reframe.GATES)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="us")
    ap.add_argument("--layout", choices=("us", "br"), default="us")
    ap.add_argument("--data", default=str(DATA / "openalpr-us-states"), help="the model's labelled folder")
    ap.add_argument("--plates", type=int, default=400)
    args = ap.parse_args()
    crops, samples = loose_crops(args.layout, args.plates)
    val, _ = load_split(args.data, "val")
    images, kept, _ = load_images(val)
    moved: list[bool] = []
    every = reframe.windows

    def counted(*a, **k):  # which crops the framing cuts or extends (the second pass's crops)
        cuts = every(*a, **k)
        moved.extend(c is not None for c in cuts)
        return cuts

    for name, pictures, labels in (("synthetic loose crops", crops, [s.text for s in samples]),
                                   ("validation", images, [s.text for s in kept])):
        with Recognizer(args.model, reframe=False, cross_check=False) as plain:
            spec = plain.spec
            first = plain.recognize_batch(pictures)
        ungated = spec.replace(framing={**spec.framing, "reread_below": None})
        moved.clear()
        reframe.windows = counted
        try:
            with Recognizer(args.model, spec=ungated, cross_check=False) as framed:
                second = framed.recognize_batch(pictures)
        finally:
            reframe.windows = every
        labels = [spec.normalise_label(t) for t in labels]
        sure = np.array([r.confidence for r in first])
        right_first = np.array([r.text == t for r, t in zip(first, labels)])
        right_second = np.array([r.text == t for r, t in zip(second, labels)])
        moves = np.array(moved)
        print(f"{name} ({len(pictures)} crops): first readings {right_first.sum()} right; re-reading every crop "
              f"{right_second.sum()} right, {moves.mean():.1%} read again")
        for gate in GATES:
            again = sure < gate
            right = np.where(again, right_second, right_first)
            print(f"  re-read below {gate:<6g} {right.sum():5d} right, {(moves & again).mean():.1%} read again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
