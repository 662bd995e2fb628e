"""How well a trained aligner (``lpr-edge train --align``) frames real plates cut at known margins.

On a dataset with plate boxes (``openalpr-br-context``), each plate is cut at each margin as a
detector would; where the box lies in that crop is known, so the zoom/shift that frames it is too
(``lpr_edge.train.data.frame``). Printed per margin: the true and the predicted zoom (x, y), the
mean absolute error of the four parameters, and the correlation of predicted with true zoom across
all crops (0: one fixed zoom for every crop, as the aligner learnt without ``--align-box``).

``--image OUT.png`` draws a few plates at each margin: the crop the network gets, and below it
what the aligner makes of it.

Reproduce (the recorded numbers use each run's final weights): python benchmarks/aligner_framing.py
runs/us/align_box10/last.pt --json framing.json --image framing.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from lpr_edge.atomic import write_text
from lpr_edge.evaluation.contact_sheet import write_contact_sheet
from lpr_edge.evaluation.datasets import load_dataset, load_images
from lpr_edge.evaluation.margins import boxed, crop_at_margin, margin_window, parse_margins
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
            x0, y0, x1, y1 = margin_window(img, (x, y, w, h), m)
            crops.append(img[y0:y1, x0:x1])
            targets.append(frame((x - x0, y - y0, x - x0 + w, y - y0 + h), x1 - x0, y1 - y0))
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


def sheet(net, images, boxes, margins, spec, plates: int = 6) -> np.ndarray:
    """Rows of plates, columns of margins: each cell the network's input above the aligner's output."""
    picks = np.linspace(0, len(images) - 1, plates).astype(int)
    rows = []
    for i in picks:
        cells = []
        for m in margins:
            x = torch.from_numpy(preprocess_batch([crop_at_margin(images[i], boxes[i], m)], spec))
            with torch.no_grad():
                pair = torch.cat([x, net.align(x)], dim=2)[0].permute(1, 2, 0).numpy()
            pair = (pair - pair.min()) / max(1e-6, float(pair.max() - pair.min())) * 255
            cells.append(np.pad(pair.astype(np.uint8), ((2, 2), (2, 2), (0, 0)), constant_values=255))
        rows.append(np.hstack(cells))
    grid = np.vstack(rows)
    if spec.color == "RGB":  # shown with OpenCV, which writes BGR
        grid = grid[..., ::-1]
    header = np.full((18, grid.shape[1], 3), 255, np.uint8)
    for k, m in enumerate(margins):
        cv2.putText(header, f"margin {m:.0%}", (k * (spec.width + 4) + 4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([header, grid])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="a .pt checkpoint of a run trained with --align")
    ap.add_argument("--data", default=str(DATA), help="labelled crops with box_x/y/w/h columns")
    ap.add_argument("--margin", default="0,0.05,0.1,0.15,0.2,0.25", help="margins per side, fractions of the box")
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--image", help="also draw plates at each margin, before and after the aligner (PNG)")
    args = ap.parse_args()
    net, spec = load_checkpoint(args.checkpoint)
    if net.align is None:
        raise SystemExit(f"{args.checkpoint} has no aligner (trained without --align)")
    net.eval()
    samples = boxed(load_dataset(args.data).samples)
    images, kept, _ = load_images(samples)
    boxes, margins = [s.box for s in kept], parse_margins(args.margin)
    out = framing(net, images, boxes, margins, spec)
    for r in out["margins"]:
        print(f"margin {r['margin']:.2f}: zoom x/y true {r['true_zoom_xy'][0]:.3f}/{r['true_zoom_xy'][1]:.3f} "
              f"predicted {r['pred_zoom_xy'][0]:.3f}/{r['pred_zoom_xy'][1]:.3f}  MAE {r['mae']:.3f}")
    print(f"correlation of predicted with true zoom across crops: x {out['zoom_corr_xy'][0]:.2f}, "
          f"y {out['zoom_corr_xy'][1]:.2f}")
    if args.json:
        write_text(args.json, json.dumps(out, indent=2))
    if args.image:
        write_contact_sheet(args.image, sheet(net, images, boxes, margins, spec))


if __name__ == "__main__":
    main()
