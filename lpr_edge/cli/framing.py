"""lpr-edge framing --model M --data DIR -o OUT.onnx: fit where the model's characters sit in its
training crops, so that loose crops are cut around their characters and read again
(lpr_edge.runtime.reframe). The spans come from the training side of DIR's fixed split (crops read
right). The margin: of those that read no fewer validation crops than first readings, the one that
reads held-out synthetic loose crops of --synth-layout best (without it, the best on validation);
then the pad, and the gate (--reread-below: first readings at least this sure keep it without a second
pass), by the same two sets. OUT is the model with the framing in its spec."""
from __future__ import annotations

import json
import sys

from ..spec import PRESETS


def add_parser(sub, name):
    p = sub.add_parser(name, help="fit the framing that re-reads loose crops, into a copy of the model",
                       description=__doc__)
    p.add_argument("--model", "-m", default=None, help="ONNX model or bundled name (us, br; default: us)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None, help="spec preset for models that carry none")
    p.add_argument("--spec", default=None, help="spec JSON file for models that carry none")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for ONNX Runtime (0: all cores)")
    p.add_argument("--data", required=True, help="the model's labelled training folder (labels.csv or label-named "
                                                  "images); its fixed seeded split gives training and validation crops")
    p.add_argument("--relabel", default=None, metavar="FIXES.csv", help="label corrections applied after the split")
    p.add_argument("-o", "--out", required=True, help="output .onnx: the model with the framing in its spec")
    p.add_argument("--min-count", type=int, default=20,
                   help="reading lengths read right on fewer training crops get no span (default 20)")
    p.add_argument("--margin", type=float, default=None,
                   help="use this margin (fraction of the plate per side, 0-0.5) instead of choosing 0, 0.05 or "
                        "0.1 on the validation side, e.g. one chosen with lpr-edge eval --margin on boxed plates "
                        "of your own")
    p.add_argument("--synth-layout", choices=("us", "br"), default=None,
                   help="choose the margin on synthetic plates of this layout cut loose (0-25 %% per side) among "
                        "those harmless on validation (default: on validation alone)")
    p.add_argument("--synth-plates", type=int, default=400, help="synthetic plates for --synth-layout (default 400)")
    p.add_argument("--pad", choices=("none", "replicate", "median"), default=None,
                   help="how to extend crops tighter than training (edge pixels, median colour) instead of choosing "
                        "it the same way as the margin")
    p.add_argument("--reread-below", default=None, metavar="CONFIDENCE|off",
                   help="re-read only crops whose first reading is less sure than this (0-1; off: every crop) "
                        "instead of choosing the lowest that loses nothing on validation and the synthetic plates")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..errors import InputError
    from ..formats.onnx_spec import load_spec_file
    from ..toolchain.framing import frame_model

    if args.min_count < 1:
        raise InputError(f"--min-count must be at least 1, got {args.min_count}")
    if args.synth_plates < 1:
        raise InputError(f"--synth-plates must be at least 1, got {args.synth_plates}")
    if args.margin is not None and not 0 <= args.margin <= 0.5:
        raise InputError(f"--margin must be between 0 and 0.5 (a fraction of the plate per side), got {args.margin}")
    below = args.reread_below
    if below is not None and below != "off":
        try:
            below = float(below)
        except ValueError:
            below = -1.0
        if not 0 < below <= 1:
            raise InputError(f"--reread-below must be a confidence in (0, 1] or off, got {args.reread_below!r}")
    fit = frame_model(args.model, args.data, args.out, relabel=args.relabel,
                      spec=load_spec_file(args.spec) if args.spec else None, preset=args.preset,
                      min_count=args.min_count, threads=args.threads, margin=args.margin,
                      synth_layout=args.synth_layout, synth_plates=args.synth_plates, pad=args.pad, reread_below=below,
                      say=lambda message: print(message + " ...", file=sys.stderr, flush=True))
    scores, loose = _percent(fit.val_perfect), _percent(fit.loose_perfect)
    pad_val, pad_loose = _percent(fit.pad_val_perfect), _percent(fit.pad_loose_perfect)
    gate_val, gate_loose = _percent(fit.gate_val_perfect), _percent(fit.gate_loose_perfect)
    if args.json:
        print(json.dumps({"out": args.out, "framing": fit.framing, "fitted_on": fit.fitted_on,
                          "val_perfect_match": scores, "synthetic_loose_perfect_match": loose,
                          "pad_val_perfect_match": pad_val, "pad_synthetic_perfect_match": pad_loose,
                          "gate_val_perfect_match": gate_val, "gate_synthetic_perfect_match": gate_loose}))
        return 0
    spans = ", ".join(f"{n} characters {a:.3f}-{b:.3f}" for n, (a, b) in fit.framing["spans"].items())
    print(f"spans from {fit.fitted_on} training crops read right: {spans}")
    print("validation perfect match by margin: " + _listed(scores))
    if loose:
        print(f"synthetic {args.synth_layout} plates cut at 0-25 % margin, mean perfect match by margin: "
              + _listed(loose))
    print("tight crops extended, at that margin, validation: " + _listed(pad_val)
          + (f"; synthetic: {_listed(pad_loose)}" if pad_loose else ""))
    if len(gate_val) > 1:
        print("re-reading only first readings less sure than, validation: " + _listed(gate_val)
              + (f"; synthetic: {_listed(gate_loose)}" if gate_loose else ""))
    how = "given" if args.margin is not None else "chose"
    gate = fit.framing.get("reread_below")
    print(f"{how} margin {fit.framing['margin']:g}, pad {fit.framing['pad']}"
          + (f", re-read below {gate:g}" if gate is not None else ", every crop may be re-read")
          + f"; wrote {args.out}")
    return 0


def _listed(percentages: dict) -> str:
    return ", ".join(f"{k}: {v:.2f} %" for k, v in percentages.items())


def _percent(shares: dict) -> dict:
    """Shares as percentages keyed for printing: a margin as 0.05, no reframing as none, a pad by its name."""
    return {("none" if k is None else k if isinstance(k, str) else f"{k:g}"): round(v * 100, 2)
            for k, v in shares.items()}
