"""One calibration pipeline: ``calibrate`` and ``build --calib-data`` make the same cache from the same
crops, and neither writes anything the user did not ask for over the shipped files."""
from __future__ import annotations

import hashlib

import cv2
import numpy as np

from lpr_edge import synth
from lpr_edge.cli import main

from .. import doubles
from ..conftest import REPO

SHIPPED = sorted((REPO / "calibration").glob("lprnet_us.*"))


def digest() -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SHIPPED}


def crops_folder(tmp_path, n=12):
    folder = tmp_path / "crops"
    folder.mkdir()
    for i, plate in enumerate(synth.generate(n, seed=5)):
        cv2.imwrite(str(folder / f"{plate.text}_{i}.png"), plate.image)
    return folder


def test_build_and_calibrate_make_the_same_cache_from_the_same_crops(monkeypatch, tmp_path, capsys):
    doubles.install(monkeypatch, "11.4.0")
    folder = crops_folder(tmp_path)
    before = digest()
    monkeypatch.chdir(REPO)  # as a user runs it, from the repository root
    cache = tmp_path / "c.cache"
    assert main(["calibrate", "--data", str(folder), "--trt-version", "11.4.0", "--cache", str(cache)]) == 0
    assert main(["build", "--int8", "--calib-data", str(folder), "--out", str(tmp_path / "engines")]) == 0
    built = tmp_path / "engines" / "lprnet_us.int8.cache"
    assert built.read_text() == cache.read_text()
    # Outputs not named went beside the named one, never over the shipped calibration files.
    assert (tmp_path / "lprnet_us.qdq.onnx").is_file() and (tmp_path / "lprnet_us.cpu.qdq.onnx").is_file()
    assert digest() == before


def test_unnamed_outputs_go_beside_the_named_ones(monkeypatch, tmp_path):
    before = digest()
    monkeypatch.chdir(REPO)
    out = tmp_path / "out"
    assert main(["calibrate", "--samples", "8", "--cache", str(out / "a.cache"), "--qdq", str(out / "b.onnx")]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.cache", "b.onnx", "lprnet_us.cpu.qdq.onnx"]
    assert digest() == before
    assert np.all([p.stat().st_size > 0 for p in out.iterdir()])
