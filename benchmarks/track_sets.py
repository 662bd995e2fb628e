"""Development sets of plates seen in several views (a vehicle's frames), as folders that
``lpr-edge eval --track-column track`` reads: ``labels.csv`` with ``file,text,track``.

- ``context``: each boxed plate of ``openalpr-br-context`` cut ``--views`` times, each side's margin drawn
  from 0-25 % of the box (a detector's box is never exact), and the view shrunk to 35-100 % of its size (the
  vehicle at different distances).
- ``detector``: the plates of ``openalpr-br-detector`` that have several crops (the dataset's own views).
- ``synthetic``: ``--plates`` synthetic plates (US layout), each seen ``--views`` times as it approaches:
  camera effects (margins, angle, resolution, blur, noise, JPEG) from strong (far) to weak (near).

Seeds: ``--seed 1`` for choosing how views are fused, ``--seed 2`` for the numbers quoted (``detector``
has no seed: it is the data as it is).

Reproduce: python benchmarks/track_sets.py --out /tmp/tracks --seed 2
           lpr-edge eval --data /tmp/tracks/context --track-column track
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from lpr_edge.datasets.folders import load_dataset, read_image
from lpr_edge.synth import camera_effects, render_clean

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def context_views(out: Path, views: int, rng: np.random.Generator) -> int:
    rows = []
    for sample in load_dataset(DATA / "openalpr-br-context").samples:
        image = read_image(sample.path)
        x, y, w, h = sample.box
        for k in range(views):
            left, right, top, bottom = rng.uniform(0.0, 0.25, 4)
            x0, x1 = max(0, round(x - left * w)), min(image.shape[1], round(x + w + right * w))
            y0, y1 = max(0, round(y - top * h)), min(image.shape[0], round(y + h + bottom * h))
            view = image[y0:y1, x0:x1]
            scale = rng.uniform(0.35, 1.0)
            view = cv2.resize(view, (max(8, round(view.shape[1] * scale)), max(4, round(view.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA)
            rows.append(_write(out, f"{sample.text}_{k}.png", view, sample.text, sample.text))
    return _labels(out, rows)


def detector_views(out: Path) -> int:
    samples = load_dataset(DATA / "openalpr-br-detector").samples
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.text] = counts.get(s.text, 0) + 1
    rows = [_write(out, s.path.name, read_image(s.path), s.text, s.text) for s in samples if counts[s.text] > 1]
    return _labels(out, rows)


def synthetic_views(out: Path, plates: int, views: int, rng: np.random.Generator) -> int:
    rows = []
    for p in range(plates):
        plate = render_clean(rng, extras=False)
        for k in range(views):
            strength = 1.0 - 0.8 * k / max(1, views - 1)  # far (strong effects) to near
            view = camera_effects(plate.image, rng, strength)
            rows.append(_write(out, f"s{p:04d}_{k}.png", view, plate.text, f"s{p:04d}"))
    return _labels(out, rows)


def _write(out: Path, name: str, image: np.ndarray, text: str, track: str) -> tuple[str, str, str]:
    (out / "images").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / "images" / name), image)
    return f"images/{name}", text, track


def _labels(out: Path, rows: list[tuple[str, str, str]]) -> int:
    with open(out / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text", "track"])
        w.writerows(rows)
    return len(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=2, help="1: for choices, 2: for quoted numbers (default 2)")
    ap.add_argument("--views", type=int, default=6)
    ap.add_argument("--plates", type=int, default=300, help="synthetic plates (default 300)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print("context:", context_views(args.out / "context", args.views, rng), "views")
    print("detector:", detector_views(args.out / "detector"), "views")
    print("synthetic:", synthetic_views(args.out / "synthetic", args.plates, args.views, rng), "views")
    return 0


if __name__ == "__main__":
    sys.exit(main())
