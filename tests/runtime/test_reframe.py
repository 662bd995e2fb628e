"""Re-reading loose crops (lpr_edge.runtime.reframe): windows with known answers, the spec's framing,
the bundled models on real plates cut loose from their photos, and ``lpr-edge framing``."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from lpr_edge import Recognizer
from lpr_edge.bundled import resolve_model
from lpr_edge.cli import main
from lpr_edge.datasets import load_dataset, read_image
from lpr_edge.errors import SpecError
from lpr_edge.evaluation.harness import evaluate, evaluate_images
from lpr_edge.evaluation.margins import crop_at_margin
from lpr_edge.formats.onnx_spec import read_model_spec
from lpr_edge.runtime.decode import PlateResult
from lpr_edge.runtime.reframe import char_spans, cut, fit_spans, windows
from lpr_edge.spec import ModelSpec

from ..conftest import BR_DATA, SHARED_DATA, US_DATA, crops_read_again, need

BLANK, T = 35, 24
FRAMING = {"margin": 0.0, "spans": {"7": (4 / 24, 22 / 24)}}


def steps(first: int, last: int, n: int = 7) -> np.ndarray:
    """One plate's best path: ``n`` characters spread over steps first..last, blanks elsewhere."""
    row = np.full(T, BLANK)
    row[np.linspace(first, last, n).round().astype(int)] = np.arange(n)
    return row[None]


def reading(text: str = "ABC1234") -> list[PlateResult]:
    return [PlateResult(text, 0.9, (0.9,) + (1.0,) * (len(text) - 1))]  # character product 0.9


def test_char_spans_are_the_first_and_one_past_the_last_non_blank_step():
    start, end, found = char_spans(np.vstack([steps(8, 19), np.full((1, T), BLANK)]), BLANK)
    assert start[0] == 8 / 24 and end[0] == 20 / 24 and found.tolist() == [True, False]


def test_a_loose_crop_is_cut_so_its_characters_sit_as_in_training():
    # characters over steps 8..19 of a 300x100 crop; in training they sat over 4..21: the plate is
    # (12/24 * 300) / (18/24) = 200 px wide from x = 100 - 4/24 * 200 = 66.7, and 200 * 100/300 high, centred
    assert windows([(100, 300, 3)], steps(8, 19), reading(), FRAMING, BLANK) == [(67, 17, 267, 83)]
    with_margin = windows([(100, 300, 3)], steps(8, 19), reading(), {**FRAMING, "margin": 0.1}, BLANK)
    assert with_margin == [(47, 10, 287, 90)]  # 10 % of the estimated plate more on each side


def test_crops_that_keep_their_first_reading():
    shape = [(100, 300, 3)]
    assert windows(shape, steps(4, 21), reading(), FRAMING, BLANK) == [None]             # already framed as in training
    assert windows(shape, steps(1, 23), reading(), FRAMING, BLANK) == [None]             # wider: never beyond the crop
    assert windows(shape, steps(8, 19, 5), reading("ABC12"), FRAMING, BLANK) == [None]   # a length without a span
    assert windows(shape, np.full((1, T), BLANK), [PlateResult("", 0.0)], FRAMING, BLANK) == [None]
    assert windows([(6, 10, 3)], steps(8, 19), reading(), FRAMING, BLANK) == [None]      # too small to cut again


def test_a_first_reading_as_sure_as_the_gate_is_kept():
    shape = [(100, 300, 3)]  # reading() is 0.9 sure
    assert windows(shape, steps(8, 19), reading(), {**FRAMING, "reread_below": 0.9}, BLANK) == [None]
    assert windows(shape, steps(8, 19), reading(), {**FRAMING, "reread_below": 0.95}, BLANK) == [(67, 17, 267, 83)]
    assert windows(shape, steps(8, 19), reading(), {**FRAMING, "reread_below": None}, BLANK) == [(67, 17, 267, 83)]


def test_a_crop_tighter_than_training_is_extended_only_if_the_framing_says_how():
    shape = [(100, 300, 3)]
    # characters over steps 1..23: wider than in training (4..21), so the plate reaches beyond the crop
    assert windows(shape, steps(1, 23), reading(), FRAMING, BLANK) == [None]
    window = windows(shape, steps(1, 23), reading(), {**FRAMING, "pad": "replicate"}, BLANK)[0]
    assert window == (-51, -14, 332, 114)
    crop = np.random.default_rng(0).integers(0, 256, (100, 300, 3), dtype=np.uint8)
    grown = cut(crop, window, "replicate")
    assert grown.shape == (128, 383, 3) and np.array_equal(grown[14:114, 51:351], crop)
    assert np.array_equal(grown[14:114, 0], crop[:, 0]) and np.array_equal(grown[0, 51:351], crop[0])
    filled = cut(crop, window, "median")
    assert (filled[0, 0] == np.median(crop.reshape(-1, 3), axis=0).round()).all()
    assert cut(crop, window).shape == (100, 300, 3)  # without a pad: the part inside the crop


def test_cut_is_contiguous_and_works_on_grey_crops():
    grey = np.arange(100 * 300, dtype=np.uint8).reshape(100, 300)
    piece = cut(grey, (67, 17, 267, 83))
    assert piece.shape == (66, 200) and piece.flags["C_CONTIGUOUS"] and piece[0, 0] == grey[17, 67]


def test_fit_spans_takes_the_median_per_length_and_skips_rare_lengths():
    classes = np.vstack([steps(4, 21), steps(6, 21), steps(5, 22), steps(8, 17, 5)])
    texts = ["ABC1234", "ABC1234", "ABC1234", "ABC12"]
    assert fit_spans(classes, texts, BLANK, min_count=3) == {"7": (round(5 / 24, 4), round(22 / 24, 4))}
    assert set(fit_spans(classes, texts, BLANK, min_count=1)) == {"5", "7"}


def test_spec_framing_round_trips_and_malformed_framing_is_refused():
    spec = ModelSpec(framing={"margin": 0.1, "spans": {"7": [0.17, 0.96]}, "pad": "median"})
    assert ModelSpec.from_json(spec.to_json()) == spec and spec.framing["spans"]["7"] == (0.17, 0.96)
    for bad in ({"spans": {"7": [0.2, 0.9]}}, {"margin": 0.1, "spans": {"7": [0.9, 0.2]}},
                {"margin": 0.1, "spans": {"seven": [0.2, 0.9]}}, {"margin": 0.9, "spans": {"7": [0.2, 0.9]}},
                {"margin": 0.1, "spans": {}}, {"margin": 0.1, "spans": {"7": [0.2]}}):
        with pytest.raises(SpecError, match="lpr-edge framing"):
            ModelSpec(framing=bad)
    with pytest.raises(SpecError, match="lpr-edge framing"):
        ModelSpec(framing={"margin": 0.1, "spans": {"7": [0.2, 0.9]}, "pad": "mirror"})
    older = ModelSpec(framing={"margin": 0.1, "spans": {"7": [0.2, 0.9]}})   # files fitted before pad
    assert older.framing["pad"] == "none"
    # "keep: own" (written by files of an earlier lpr-edge) means what every framing does now; "confident" is
    # retired with the cross-check's choice of view, and said so
    own = ModelSpec(framing={"margin": 0.1, "spans": {"7": [0.2, 0.9]}, "keep": "own"})
    assert own == older and "keep" not in own.to_dict()["framing"]
    with pytest.raises(SpecError, match="retired; re-fit the framing with lpr-edge framing"):
        ModelSpec(framing={"margin": 0.1, "spans": {"7": [0.2, 0.9]}, "keep": "confident"})
    assert older.framing["reread_below"] is None and "reread_below" not in older.to_dict()["framing"]
    gated = ModelSpec(framing={"margin": 0.1, "spans": {"7": [0.2, 0.9]}, "reread_below": 0.98})
    assert ModelSpec.from_json(gated.to_json()).framing["reread_below"] == 0.98
    for below in (0, 1.5, "sure"):
        with pytest.raises(SpecError, match="reread_below"):
            ModelSpec(framing={"margin": 0.1, "spans": {"7": [0.2, 0.9]}, "reread_below": below})


@pytest.mark.parametrize("name, margin, pad, gate", [("us", 0.1, "replicate", 0.98), ("br", 0.05, "replicate", None)])
def test_bundled_models_carry_a_framing_and_reframe_by_default(name, margin, pad, gate):
    with Recognizer(name) as rec:
        assert rec.reframe and (rec.spec.framing["margin"], rec.spec.framing["pad"]) == (margin, pad)
        assert rec.spec.framing["reread_below"] == gate
    with Recognizer(name, reframe=False) as rec:
        assert not rec.reframe


def test_loose_crops_of_real_plates_are_read_again_and_tight_ones_are_not_worse():
    context = load_dataset(need(SHARED_DATA / "openalpr-br-context")).samples
    loose = [crop_at_margin(read_image(s.path), s.box, 0.25) for s in context]
    tight = load_dataset(need(BR_DATA)).samples  # the same plates cut with 10 % margin
    with Recognizer("br") as framed, Recognizer("br", reframe=False) as plain:
        loose_framed = evaluate_images(framed, loose, context).accuracy.perfect_match
        loose_plain = evaluate_images(plain, loose, context).accuracy.perfect_match
        tight_framed = evaluate(framed, tight).accuracy.perfect_match
        tight_plain = evaluate(plain, tight).accuracy.perfect_match
    # measured: 25 % margin 92.98 % read again, 82.46 % first readings; 10 % margin 95.61 % and 93.86 %
    assert loose_framed >= 0.90 and loose_framed - loose_plain >= 0.06
    assert tight_framed >= 0.95 and tight_framed >= tight_plain


def test_the_bundled_us_gate_reads_fewer_crops_again_and_validation_no_worse():
    from lpr_edge.datasets import split

    _, val = split(load_dataset(need(US_DATA)).samples)
    images = [read_image(s.path) for s in val]
    gated = read_model_spec(resolve_model("us"))
    every = gated.replace(framing={**gated.framing, "reread_below": None})   # lpr-edge framing --reread-below off
    with Recognizer("us", cross_check=False) as rec, Recognizer("us", spec=every, cross_check=False) as ungated:
        again = [len(crops_read_again(r, images)) for r in (rec, ungated)]
        right = [evaluate_images(r, images, val).accuracy.perfect_match for r in (rec, ungated)]
    # measured: 46 of 150 validation crops read again with the gate, 147 without; 146 and 145 read right
    assert again[0] < again[1] / 2 and right[0] >= right[1]


def labelled_folder(tmp_path, n: int = 80):
    """The first ``n`` crops of the US collection as a labelled folder of their own."""
    source = need(US_DATA)
    folder = tmp_path / "crops"
    folder.mkdir()
    with open(source / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))[:n]
    for row in rows:
        (folder / row["file"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / row["file"], folder / row["file"])
    with open(folder / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "text"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_framing_cli_fits_spans_chooses_a_margin_and_writes_a_copy(tmp_path, capsys):
    folder = labelled_folder(tmp_path)
    out = tmp_path / "framed.onnx"
    assert main(["framing", "--model", "us", "--data", str(folder), "--min-count", "5", "-o", str(out),
                 "--threads", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    spec = read_model_spec(out)
    assert spec.framing == {"margin": report["framing"]["margin"], "pad": report["framing"]["pad"],
                            "reread_below": report["framing"].get("reread_below"),
                            "spans": {k: tuple(v) for k, v in report["framing"]["spans"].items()}}
    assert report["framing"]["pad"] in ("none", "replicate", "median")
    assert spec.framing["margin"] in (0.0, 0.05, 0.1)
    assert set(report["val_perfect_match"]) == {"none", "0", "0.05", "0.1"}
    assert 0 < report["fitted_on"] < 80  # crops of the training side read right
    with Recognizer(str(out)) as rec:
        assert rec.reframe
    assert main(["framing", "--model", str(out), "--data", str(folder), "--min-count", "5", "--margin", "0.05",
                 "-o", str(out), "--threads", "1", "--json"]) == 0
    given = json.loads(capsys.readouterr().out)
    assert given["framing"]["margin"] == 0.05 and set(given["val_perfect_match"]) == {"none", "0.05"}
    assert read_model_spec(out).framing["spans"] == spec.framing["spans"]  # re-fitting a framed model: same spans


def test_framing_cli_chooses_among_harmless_margins_on_synthetic_loose_crops(tmp_path, capsys):
    folder = labelled_folder(tmp_path)
    out = tmp_path / "framed.onnx"
    assert main(["framing", "--model", "us", "--data", str(folder), "--min-count", "5", "--synth-layout", "us",
                 "--synth-plates", "12", "-o", str(out), "--threads", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    val, loose = report["val_perfect_match"], report["synthetic_loose_perfect_match"]
    harmless = [m for m in ("0", "0.05", "0.1") if val[m] >= val["none"]] or [max(("0", "0.05", "0.1"),
                                                                                  key=lambda m: (val[m], float(m)))]
    assert set(loose) == {"none", *harmless}
    chosen = max(harmless, key=lambda m: (loose[m], float(m)))
    assert read_model_spec(out).framing["margin"] == float(chosen) == report["framing"]["margin"]
    # then the pad, at that margin, by the same two steps; ties: none, then replicate
    pad_val, pad_loose = report["pad_val_perfect_match"], report["pad_synthetic_perfect_match"]
    pads_ok = [p for p in ("none", "replicate", "median") if pad_val[p] >= pad_val["none"]]
    scores = pad_loose if len(pads_ok) > 1 else pad_val
    assert set(pad_loose) == (set(pads_ok) if len(pads_ok) > 1 else set())
    pad = max(pads_ok, key=lambda p: (scores[p], -("none", "replicate", "median").index(p)))
    assert read_model_spec(out).framing["pad"] == pad == report["framing"]["pad"]
    # last the gate: the lowest that loses nothing on either set (gates are tried from the lowest up)
    gate_val, gate_loose = report["gate_val_perfect_match"], report["gate_synthetic_perfect_match"]
    tried = [g for g in gate_val if g != "off"]
    assert tried == ["0.9", "0.95", "0.98", "0.99", "0.995", "0.999"][:len(tried)]
    fine = [g for g in tried if gate_val[g] >= gate_val["off"] and gate_loose.get(g, -1) >= gate_loose["off"]]
    assert fine == ([tried[-1]] if fine else [])  # the search stops at the first gate that loses nothing
    gate = read_model_spec(out).framing["reread_below"]
    assert gate == (float(fine[0]) if fine else None) == report["framing"].get("reread_below")


def test_framing_cli_takes_a_given_gate_or_none(tmp_path, capsys):
    folder = labelled_folder(tmp_path, n=40)
    out = tmp_path / "framed.onnx"
    for given, expected in (("0.97", 0.97), ("off", None)):
        assert main(["framing", "--data", str(folder), "--min-count", "5", "--margin", "0.1", "--pad", "none",
                     "--reread-below", given, "-o", str(out), "--threads", "1", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["gate_val_perfect_match"] == {"off": report["val_perfect_match"]["0.1"]}
        assert read_model_spec(out).framing["reread_below"] == expected
    out.unlink()
    for bad in ("1.5", "0", "sure"):
        assert main(["framing", "--data", str(folder), "--reread-below", bad, "-o", str(out)]) == 2
        assert "--reread-below" in capsys.readouterr().err and not out.exists()


def test_synthetic_plates_in_context_are_seeded_and_hold_their_box():
    from lpr_edge.synth.world import plates_in_context

    first, again = plates_in_context("br", 3, seed=4), plates_in_context("br", 3, seed=4)
    for (image, box, text), (image2, box2, text2) in zip(first, again):
        assert np.array_equal(image, image2) and box == box2 and text == text2
        height, width = image.shape[:2]
        x0, y0, x1, y1 = box
        # 30 % of surroundings per side: the plate is about 1/1.6 of the image each way, roughly centred
        assert 0.5 < (x1 - x0) / width < 0.75 and 0.5 < (y1 - y0) / height < 0.75
        assert abs((x0 + x1) / 2 - width / 2) < 0.1 * width and len(text) == 7


def test_framing_cli_refuses_what_it_cannot_fit_and_writes_nothing(tmp_path, capsys):
    folder = labelled_folder(tmp_path, n=30)
    out = tmp_path / "framed.onnx"
    assert main(["framing", "--data", str(folder), "--min-count", "1000", "-o", str(out)]) == 2
    assert "--min-count" in capsys.readouterr().err and not out.exists()
    assert main(["framing", "--data", str(folder), "--min-count", "0", "-o", str(out)]) == 2
    assert "at least 1" in capsys.readouterr().err and not out.exists()
    assert main(["framing", "--data", str(folder), "--margin", "0.7", "-o", str(out)]) == 2
    assert "between 0 and 0.5" in capsys.readouterr().err and not out.exists()


def test_eval_says_whether_loose_crops_were_read_again(capsys):
    from ..conftest import REPO

    samples = str(REPO / "examples" / "samples")
    assert main(["eval", "--data", samples, "--threads", "1"]) == 0
    assert "loose crops read again" in capsys.readouterr().out
    assert main(["eval", "--data", samples, "--threads", "1", "--no-reframe", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reframe"] is False
