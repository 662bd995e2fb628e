"""Pictures of the synthetic training plates for the model card (lpr_edge/models/*.png).

python examples/synth_pictures.py   # writes synthetic_world.png, synthetic_graphics.png, synthetic_stroke_fonts.png,
                                    # synthetic_stroke_weight.png, synthetic_plain_ones.png, synthetic_stacked.png,
                                    # synthetic_br.png, synthetic_br_plate_o.png, synthetic_br_plate_d.png there
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from lpr_edge import synth
from lpr_edge.synth import PlateStyles
from lpr_edge.synth.stroke_weight import change_stroke_weight
from lpr_edge.synth.world import world_effects

OUT = Path(__file__).resolve().parents[1] / "lpr_edge" / "models"


def grid(images, cols=4, size=(192, 96)):
    tiles = [cv2.resize(i, size, interpolation=cv2.INTER_AREA) for i in images]
    return np.vstack([np.hstack(tiles[r:r + cols]) for r in range(0, len(tiles), cols)])


def us(rng, text=None, **styles):
    """A clean US plate drawn with ``styles`` (PlateStyles' fields)."""
    return synth.render_clean(rng, text=text, styles=PlateStyles(**styles))


def br(seed, text, **styles):
    """The clean Brazilian plate of ``seed`` and ``text`` drawn with ``styles``."""
    return synth.render_br(np.random.default_rng(seed), text=text, styles=PlateStyles(**styles))


def main() -> None:
    rng = np.random.default_rng(7)
    world = [synth.camera_effects(world_effects(us(rng, emblems=True).image, rng), rng, 0.5,
                                  margins=False) for _ in range(16)]
    cv2.imwrite(str(OUT / "synthetic_world.png"), grid(world))
    # --synth-graphics: printed pictures beside or behind the characters (every plate here has one).
    rng = np.random.default_rng(7)
    cv2.imwrite(str(OUT / "synthetic_graphics.png"),
                grid([us(rng, emblems=True, graphics=1.0).image for _ in range(12)]))
    # --synth-stroke-fonts: characters in a thick Hershey stroke font (every plate here).
    rng = np.random.default_rng(11)
    cv2.imwrite(str(OUT / "synthetic_stroke_fonts.png"),
                grid([us(rng, emblems=True, stroke_fonts=1.0).image for _ in range(12)]))
    # --stroke-weight: each plate as drawn, with its strokes thickened (eroded) and thinned (dilated).
    rng = np.random.default_rng(5)
    rows = []
    for _ in range(4):
        plate = us(rng, emblems=True).image
        rows += [plate, change_stroke_weight(plate, rng, erode=True), change_stroke_weight(plate, rng, erode=False)]
    cv2.imwrite(str(OUT / "synthetic_stroke_weight.png"), grid(rows, cols=3))
    # --synth-plain-ones: the same texts with the font's own 1 (left) and the 1 as a plain bar (right).
    pairs = []
    for seed, text in enumerate(("14CV10", "1ABC234", "7JK 1191", "211 XPR", "1Q 4811", "61HJ1")):
        pairs += [us(np.random.default_rng(seed), text=text, plain_ones=share).image for share in (0.0, 1.0)]
    cv2.imwrite(str(OUT / "synthetic_plain_ones.png"), grid(pairs))
    # --synth-stacked: small characters stacked beside the characters, not in the label (every plate here).
    rng = np.random.default_rng(3)
    cv2.imwrite(str(OUT / "synthetic_stacked.png"),
                grid([us(rng, emblems=True, stacked=1.0).image for _ in range(12)]))
    rng = np.random.default_rng(2)
    plates = [synth.camera_effects(synth.render_br(rng).image, rng, 0.5) for _ in range(8)]
    cv2.imwrite(str(OUT / "synthetic_br.png"), grid(plates, size=(240, 80)))
    # --synth-plate-o: the same plates with the font's round O (left) and the plate font's narrow O (right).
    pairs = []
    for seed, text in enumerate(("OKM2371", "NOD4150", "JOO8206", "PDO1937")):
        pairs += [br(seed, text, plate_o=share).image for share in (0.0, 1.0)]
    cv2.imwrite(str(OUT / "synthetic_br_plate_o.png"), grid(pairs, size=(240, 80)))
    # --synth-plate-d: plate O only (left) and plate O and D (right): the D keeps the O's box, stem corners square.
    pairs = []
    for seed, text in enumerate(("DOD4150", "ODO8206", "QDO1937", "ADO5052")):
        pairs += [br(seed, text, plate_o=1.0, plate_d=d).image for d in (0.0, 1.0)]
    cv2.imwrite(str(OUT / "synthetic_br_plate_d.png"), grid(pairs, size=(240, 80)))


if __name__ == "__main__":
    main()
