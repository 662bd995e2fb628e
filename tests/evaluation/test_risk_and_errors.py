"""Risk-coverage on a set with a known answer, margins cut from boxes, and the misread contact sheet."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from lpr_edge.errors import DatasetError
from lpr_edge.evaluation.contact_sheet import TILE_H, TILE_W, contact_sheet
from lpr_edge.evaluation.margins import crop_at_margin, parse_margins
from lpr_edge.evaluation.risk import risk_coverage
from lpr_edge.runtime.decode import PlateResult


def test_risk_coverage_known_answer():
    # 10 readings, most confident first: the 4th and the 9th are wrong.
    conf = [0.99, 0.98, 0.97, 0.96, 0.95, 0.90, 0.80, 0.70, 0.60, 0.50]
    ok = [True, True, True, False, True, True, True, True, False, True]
    rc = risk_coverage(conf, ok, target=0.99)
    assert rc.precision_at[0.5] == pytest.approx(4 / 5)
    assert rc.precision_at[0.8] == pytest.approx(7 / 8)
    assert rc.precision_at[1.0] == pytest.approx(8 / 10)
    assert rc.threshold == pytest.approx(0.97) and rc.coverage_at_target == pytest.approx(0.3)
    assert risk_coverage(conf, ok, target=0.8).coverage_at_target == pytest.approx(1.0)
    curve = [p for _, p in rc.curve]
    assert rc.aurc == pytest.approx(np.mean([1 - p for p in curve]))


def test_ties_are_accepted_together():
    # Three readings at confidence 1.0, one of them wrong: no threshold gives 100 % precision.
    rc = risk_coverage([1.0, 1.0, 1.0, 0.5], [True, False, True, True], target=1.0)
    assert rc.threshold is None and rc.coverage_at_target == 0.0


def test_weakest_character_score():
    from lpr_edge.evaluation.risk import plate_scores

    results = [PlateResult("AB", 0.3, (0.9, 0.5555)), PlateResult("", 0.0, ())]  # 0.3: a posterior
    assert plate_scores(results, "weakest") == [0.5555, 0.0] and plate_scores(results, "plate") == [0.3, 0.0]
    assert plate_scores(results, "product") == [pytest.approx(0.9 * 0.5555), 0.0]


def test_crop_at_margin_and_parse():
    image = np.arange(100 * 200).reshape(100, 200).astype(np.uint8)[..., None].repeat(3, 2)
    box = (50, 40, 100, 20)
    assert crop_at_margin(image, box, 0.0).shape[:2] == (20, 100)
    assert crop_at_margin(image, box, 0.1).shape[:2] == (24, 120)
    assert crop_at_margin(image, box, 1.0).shape[:2] == (60, 200)  # clipped to the image width
    assert parse_margins("0, 10%,0.25") == [0.0, 0.1, 0.25]
    with pytest.raises(DatasetError, match="fractions"):
        parse_margins("wide")
    with pytest.raises(DatasetError, match="outside"):
        crop_at_margin(image, (500, 500, 10, 10), 0.0)


def test_contact_sheet_puts_confident_misreads_first(tmp_path):
    crops = [np.full((30, 90, 3), v, np.uint8) for v in (50, 150)]
    sheet = contact_sheet(crops, ["ABC1", "XYZ2"], ["ABC7", ""], [0.2, 0.9], columns=6)
    assert sheet.shape[1] == 2 * (TILE_W + 4)
    first = sheet[:TILE_H, :TILE_W]
    assert abs(float(first[TILE_H // 2, TILE_W // 2, 0]) - 150) < 1  # the 0.9 misread comes first
    assert contact_sheet([], [], [], []).shape[0] > 0


def test_eval_cli_margin_risk_and_errors_image(tmp_path, capsys):
    import csv
    import json

    from lpr_edge import synth
    from lpr_edge.cli import main

    folder = tmp_path / "ctx"
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(1)
    with open(folder / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text", "box_x", "box_y", "box_w", "box_h"])
        for i in range(6):
            plate = synth.render_clean(rng, extras=False)
            scene = np.full((200, 400, 3), 90, np.uint8)
            scene[50:150, 100:300] = plate.image
            cv2.imwrite(str(folder / "images" / f"{i}.png"), scene)
            w.writerow([f"images/{i}.png", plate.text, 100, 50, 200, 100])
    sheet = tmp_path / "errors.png"
    assert main(["eval", "--data", str(folder), "--margin", "0,0.2", "--errors-image", str(sheet), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["margin"] for m in out["margins"]] == [0.0, 0.2] and all(m["plates"] == 6 for m in out["margins"])
    assert {r["score"] for r in out["risk_coverage"]} == {"plate", "product", "weakest"}
    assert cv2.imread(str(sheet)) is not None
    assert main(["eval", "--data", str(folder),
                 "--margin", "x"]) == 2
