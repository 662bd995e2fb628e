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


def test_a_whole_photo_among_crops_is_skipped_naming_its_file_and_the_rest_are_read(tmp_path, capsys):
    """One 12000x5800 photo in a folder of crops used to abort the run with "crop 5 is ..." (a position
    in a chunk) and no reading at all; eval with such a row did the same."""
    import numpy as np

    model, spec, crops = toy_model_and_crops(tmp_path, n=5)
    files = _write_crops(tmp_path / "crops", crops)
    big = tmp_path / "crops" / "p99_photo.png"
    assert cv2.imwrite(str(big), np.zeros((5800, 12000, 3), np.uint8))
    assert cli(["recognize", "--model", str(model), str(tmp_path / "crops")]) == 1
    captured = capsys.readouterr()
    assert [path for path, _ in _readings(captured.out)] == files
    assert f"skipped image {big} is 12000x5800 pixels, over the 10000px limit" in captured.err
    with open(tmp_path / "crops" / "labels.csv", "w") as fh:
        fh.write("file,text\n" + "".join(f"p{i:02d}.png,AB12\n" for i in range(5)) + "p99_photo.png,AB12\n")
    assert cli(["eval", "--model", str(model), "--data", str(tmp_path / "crops"), "--json"]) == 0
    captured = capsys.readouterr()
    assert '"plates": 5' in captured.out and "p99_photo.png): the image is 12000x5800 pixels" in captured.err


def test_a_model_that_outputs_nan_is_an_error_not_a_reading(tmp_path, capsys):
    """NaN weights (a damaged download, a broken export) used to print "confidence": NaN, invalid JSON,
    with exit 0."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model, _, crops = toy_model_and_crops(tmp_path, n=2)
    graph = onnx.load(model)
    first = graph.graph.initializer[0]
    first.CopyFrom(numpy_helper.from_array(np.full_like(numpy_helper.to_array(first), np.nan), first.name))
    broken = tmp_path / "broken.onnx"
    onnx.save(graph, broken)
    files = _write_crops(tmp_path / "crops", crops)
    assert cli(["recognize", "--json", "--model", str(broken), *files]) == 1
    captured = capsys.readouterr()
    assert "NaN" not in captured.out and "gave non-finite values (NaN or infinity)" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
