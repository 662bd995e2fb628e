"""lpr-edge eval --track-column: per-track accuracy of the fused reading, the vote and the most confident
view, risk-coverage beside the single views'; clear errors for a missing column, a row without a track id
and a track whose crops carry two labels."""
from __future__ import annotations

import csv
import json

import cv2
import pytest

from lpr_edge.cli import main as cli
from lpr_edge.datasets import load_dataset, load_images
from lpr_edge.evaluation.margins import crop_at_margin

from ..conftest import SHARED_DATA, need


@pytest.fixture(scope="module")
def track_folder(tmp_path_factory):
    """Six real plates, each cut from its photo at four margins: labels.csv with a track column."""
    data = SHARED_DATA / "openalpr-br-context"
    need(data)
    root = tmp_path_factory.mktemp("tracks")
    (root / "images").mkdir()
    images, kept, _ = load_images(load_dataset(data).samples[:6])
    rows = []
    for img, s in zip(images, kept):
        for m in (0.0, 0.08, 0.16, 0.24):
            name = f"images/{s.text}_{int(m * 100)}.png"
            cv2.imwrite(str(root / name), crop_at_margin(img, s.box, m))
            rows.append([name, s.text, f"car-{s.text}"])
    with open(root / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["file", "text", "vehicle"], *rows])
    return root


def test_eval_reports_per_track(track_folder, capsys):
    assert cli(["eval", "-m", "br", "--data", str(track_folder), "--track-column", "vehicle", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tracks"] == 6 and out["views"] == 24
    for key in ("fused", "vote", "most_confident_view", "single_view", "any_view"):
        assert 0.0 <= out[key] <= 1.0
    assert out["fused"] >= out["single_view"] and out["any_view"] >= out["fused"]
    assert out["risk_coverage_fused"]["score"] == "fused" and "aurc" in out["risk_coverage_single_views"]
    assert cli(["eval", "-m", "br", "--data", str(track_folder), "--track-column", "vehicle"]) == 0
    text = capsys.readouterr().out
    assert "6 tracks, 24 views: fused" in text and "fused confidence of a track" in text


def test_eval_track_faults_are_one_line(track_folder, tmp_path, capsys):
    assert cli(["eval", "--data", str(track_folder), "--track-column", "track"]) == 2
    assert "has no column 'track' for --track-column (columns: file, text, vehicle)" in capsys.readouterr().err
    rows = list(csv.reader(open(track_folder / "labels.csv")))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "images").symlink_to(track_folder / "images")
    rows[2][2] = ""
    rows[3][1] = "OTHER1"
    with open(bad / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    assert cli(["eval", "--data", str(bad), "--track-column", "vehicle"]) == 2
    assert "line 3" in capsys.readouterr().err  # the row without a track id, by its line
    rows[2][2] = rows[3][2]
    with open(bad / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    assert cli(["eval", "--data", str(bad), "--track-column", "vehicle"]) == 2
    err = capsys.readouterr().err
    assert "has crops labelled" in err and "one plate per track" in err and err.count("\n") == 1
    assert cli(["eval", "--data", str(track_folder), "--track-column", "vehicle", "--margin", "0.1"]) == 2
    assert "leave out --margin" in capsys.readouterr().err


def test_track_labels_are_mapped_into_the_models_alphabet(tmp_path):
    """The US model has no O (its labels map O to 0, as eval does): a track labelled with an O counts as
    read when the model reads 0 there."""
    from lpr_edge import Recognizer
    from lpr_edge.evaluation.tracks import evaluate_tracks

    need(SHARED_DATA / "openalpr-br-context")
    samples = [s for s in load_dataset(SHARED_DATA / "openalpr-br-context").samples if "O" in s.text][:1]
    assert samples
    images, kept, _ = load_images(samples)
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), crop_at_margin(images[0], kept[0].box, 0.05))
    (tmp_path / "labels.csv").write_text(f"file,text,track\nimages/a.png,{kept[0].text},t\n")
    with Recognizer("us") as rec:
        report = evaluate_tracks(rec, load_dataset(tmp_path).samples, "track")
    assert report.labels == [kept[0].text.replace("O", "0")]
