"""Write the README's sample plates (synthetic, made by lpr-edge's generator; no third-party images).

    python examples/make_samples.py   ->  examples/samples/<LABEL>.png
File names are the labels, so `lpr-edge eval --data examples/samples` scores them.
"""
from pathlib import Path

import cv2

from lpr_edge.synth import generate

OUT = Path(__file__).parent / "samples"

if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for plate in generate(6, seed=2026, effects=0.4):
        cv2.imwrite(str(OUT / f"{plate.text}.png"), plate.image)
        print(OUT / f"{plate.text}.png")
