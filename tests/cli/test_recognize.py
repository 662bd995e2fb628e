"""lpr-edge recognize: files and folders, read in chunks, undecodable images skipped with a line."""
from __future__ import annotations

import cv2

from lpr_edge.cli import main as cli
from lpr_edge.cli import recognize

from ..conftest import BANDS, toy_crop, toy_model_and_crops


def _write_crops(folder, crops):
    folder.mkdir()
    for i, crop in enumerate(crops):
        assert cv2.imwrite(str(folder / f"p{i:02d}.png"), crop)
    return sorted(str(p) for p in folder.iterdir())


def _readings(out: str) -> list[tuple[str, str]]:
    return [tuple(line.split("\t")[:2]) for line in out.strip().splitlines()]


def test_a_folder_reads_its_images_sorted_in_chunks_as_one_batch_does(tmp_path, capsys, monkeypatch):
    model, _, crops = toy_model_and_crops(tmp_path, n=7)
    files = _write_crops(tmp_path / "crops", crops)
    assert cli(["recognize", "--model", str(model), *files]) == 0
    by_files = _readings(capsys.readouterr().out)
    monkeypatch.setattr(recognize, "CHUNK", 3)
    assert cli(["recognize", "--model", str(model), str(tmp_path / "crops")]) == 0
    assert _readings(capsys.readouterr().out) == by_files
    assert [path for path, _ in by_files] == files


def test_undecodable_images_in_a_run_are_skipped_with_a_line_and_exit_1(tmp_path, capsys):
    model, spec, _ = toy_model_and_crops(tmp_path, n=1)
    folder = tmp_path / "crops"
    _write_crops(folder, [toy_crop(BANDS, spec)])
    (folder / "broken.jpg").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("not a crop either, and not an image suffix")
    assert cli(["recognize", "--model", str(model), str(folder)]) == 1
    captured = capsys.readouterr()
    assert _readings(captured.out) == [(str(folder / "p00.png"), "ABCA")]
    assert "broken.jpg cannot be decoded" in captured.err and "1 of 2 image(s)" in captured.err
    assert "Traceback" not in captured.err


def test_an_empty_folder_or_a_lone_bad_image_exits_2_with_one_line(tmp_path, capsys):
    model, _, _ = toy_model_and_crops(tmp_path, n=1)
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.png").write_bytes(b"")
    for arg, says in [("empty", "holds no images"), ("bad.png", "cannot be decoded"), ("gone.png", "does not exist")]:
        assert cli(["recognize", "--model", str(model), str(tmp_path / arg)]) == 2
        err = capsys.readouterr().err.strip()
        assert says in err and "\n" not in err
