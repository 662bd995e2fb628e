"""How well a trained aligner (``lpr-edge train --align``) frames real plates cut at known margins.

On a dataset with plate boxes (``openalpr-br-context``), each plate is cut at each margin as a
detector would; where the box lies in that crop is known, so the zoom/shift that frames it is too
(``lpr_edge.train.data.frame``). Printed per margin: the true and the predicted zoom (x, y), the
mean absolute error of the four parameters, and the correlation of predicted with true zoom across
all crops (0: one fixed zoom for every crop, as the aligner learnt without ``--align-box``).

Reproduce: python benchmarks/aligner_framing.py runs/us/align_box10/best.pt
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from lpr_edge.evaluation.datasets import load_dataset, load_images
from lpr_edge.evaluation.margins import boxed, crop_at_margin, parse_margins
from lpr_edge.runtime.preprocess import preprocess_batch
from lpr_edge.train.data import frame
from lpr_edge.train.export import load_checkpoint

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "openalpr-br-context"


def framing(net, images, boxes, margins, spec) -> dict:
    """Per margin: true and predicted framing of the plate boxes; across all: the zoom correlation."""
    rows, true_all, pred_all = [], [], []
    for m in margins:
        crops, targets = [], []
        for img, (x, y, w, h) in zip(images, boxes):
            crop = crop_at_margin(img, (x, y, w, h), m)
            H, W = img.shape[:2]
            x0, y0 = max(0, int(round(x - m * w))), max(0, int(round(y - m * h)))  # as crop_at_margin cuts
            crops.append(crop)
            targets.append(frame((x - x0, y - y0, x - x0 + w, y - y0 + h), crop.shape[1], crop.shape[0]))
        with torch.no_grad():
            pred = net.align.params(torch.from_numpy(preprocess_batch(crops, spec)))
        true = torch.stack(targets)
        rows.append({"margin": m, "true_zoom_xy": true[:, [0, 2]].mean(0).tolist(),
                     "pred_zoom_xy": pred[:, [0, 2]].mean(0).tolist(),
                     "mae": float((pred - true).abs().mean())})
        true_all.append(true)
        pred_all.append(pred)
    t, p = torch.cat(true_all), torch.cat(pred_all)
    # A constant prediction has no correlation: report 0 (what it means) instead of NaN.
    corr = [float(np.corrcoef(p[:, i], t[:, i])[0, 1]) if p[:, i].std() > 1e-6 else 0.0 for i in (0, 2)]
    return {"margins": rows, "zoom_corr_xy": corr}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="a .pt checkpoint of a run trained with --align")
    ap.add_argument("--data", default=str(DATA), help="labelled crops with box_x/y/w/h columns")
    ap.add_argument("--margin", default="0,0.05,0.1,0.15,0.2,0.25", help="margins per side, fractions of the box")
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args()
    net, spec = load_checkpoint(args.checkpoint)
    if net.align is None:
        raise SystemExit(f"{args.checkpoint} has no aligner (trained without --align)")
    net.eval()
    samples = boxed(load_dataset(args.data).samples)
    images, kept, _ = load_images(samples)
    out = framing(net, images, [s.box for s in kept], parse_margins(args.margin), spec)
    for r in out["margins"]:
        print(f"margin {r['margin']:.2f}: zoom x/y true {r['true_zoom_xy'][0]:.3f}/{r['true_zoom_xy'][1]:.3f} "
              f"predicted {r['pred_zoom_xy'][0]:.3f}/{r['pred_zoom_xy'][1]:.3f}  MAE {r['mae']:.3f}")
    print(f"correlation of predicted with true zoom across crops: x {out['zoom_corr_xy'][0]:.2f}, "
          f"y {out['zoom_corr_xy'][1]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
