from __future__ import annotations

import warnings

import numpy as np
import pytest

from lpr_edge.datasets import load_dataset, load_images, read_image, split
from lpr_edge.errors import DatasetError
from lpr_edge.evaluation.metrics import levenshtein, score

from ..conftest import US_DATA, need


def test_levenshtein_and_score():
    assert levenshtein("ABC123", "ABC123") == 0
    assert levenshtein("ABC123", "AB123") == 1
    assert levenshtein("", "ABC") == 3
    acc = score(["ABC123", "AB123", "XYZ"], ["ABC123", "ABC123", "A"])
    assert acc.plates == 3 and acc.perfect_match == pytest.approx(1 / 3)
    # distances 0 + 1 + 3 over 6 + 6 + 1 label characters
    assert acc.per_char_match == pytest.approx(1 - 4 / 13)
    assert score(["WRONGWRONG"], ["A"]).per_char_match == 0.0  # floored
    assert [e[1:] for e in acc.errors] == [("ABC123", "AB123"), ("A", "XYZ")]


def write_png(path, value=128):
    import cv2

    cv2.imwrite(str(path), np.full((20, 40, 3), value, np.uint8))


def test_labels_csv_rules(tmp_path):
    write_png(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    (tmp_path / "labels.csv").write_text(
        "file,text,note\na.png,ABC123,\nmissing.png,XYZ,\na.png,,\n,ABC,\nbad.png,BAD1,\na.png,0,label suspect\n",
        encoding="utf-8")
    ds = load_dataset(tmp_path)
    assert [s.text for s in ds] == ["ABC123", "BAD1"]
    assert len(ds.skipped) == 4 and any("image missing" in m for m in ds.skipped)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the caller says what was skipped, one line each, not a Python warning
        images, kept, skipped = load_images(ds.samples)
    assert len(images) == 1 and kept[0].text == "ABC123" and len(skipped) == 1 and "cannot be decoded" in skipped[0]
    with pytest.raises(DatasetError, match="cannot be decoded"):
        load_images(ds.samples, skip_unreadable=False)


@pytest.mark.parametrize("content, message", [
    (b"name,label\nx.png,A\n", "needs a header"),
    (b"file,text\n\xff\xfe\x00bad", "not UTF-8"),
    (b"", "needs a header"),
])
def test_bad_labels_csv(tmp_path, content, message):
    (tmp_path / "labels.csv").write_bytes(content)
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path)


def test_folder_of_named_images(tmp_path):
    write_png(tmp_path / "ABC123_1.png")
    write_png(tmp_path / "xyz9-front.jpg")
    (tmp_path / "notes.txt").write_text("x")
    assert sorted(s.text for s in load_dataset(tmp_path)) == ["ABC123", "XYZ9"]
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="does not exist"):
        read_image(tmp_path / "nope.png")


def test_us_split_is_fixed_stratified_and_leak_free():
    ds = load_dataset(need(US_DATA))
    assert all("suspect" not in s.note for s in ds)
    train, val = split(ds.samples)
    train2, val2 = split(ds.samples)
    assert [s.path for s in val] == [s.path for s in val2]
    assert 0.15 < len(val) / len(ds) < 0.25
    assert not {s.text for s in train} & {s.text for s in val}
    assert len({s.group for s in val}) > 40  # most states appear in validation


def test_paired_change_counts_flips_and_tests_them():
    from lpr_edge.evaluation.metrics import describe_change, paired_change

    labels = ["AAA", "BBB", "CCC", "DDD", "EEE"]
    reference = ["AAA", "BBB", "XXX", "DDD", "QQQ"]
    candidate = ["AAA", "BB8", "CCC", "D0D", "ZZZ"]
    change = paired_change(reference, candidate, labels)
    assert (change.changed, change.gained, change.lost) == (4, 1, 2)  # EEE changed, wrong both times
    assert change.p_value == 1.0
    # 1 gained against 9 lost: two-sided exact binomial p = 2 * (C(10,0) + C(10,1)) / 2**10
    one_sided = (1 + 10) / 2 ** 10
    lopsided = paired_change(["A"] * 11, ["A"] + ["B"] * 10, ["A"] * 10 + ["B"])
    assert (lopsided.gained, lopsided.lost) == (1, 9) and lopsided.p_value == pytest.approx(2 * one_sided)
    assert paired_change([], [], []).p_value == 1.0
    assert lopsided.to_dict() == {"changed": 10, "gained": 1, "lost": 9, "p_value": lopsided.p_value}
    assert describe_change(lopsided.to_dict()) == "+1/-9 plates (McNemar p 0.02)"
    with pytest.raises(ValueError):
        paired_change(["A"], [], ["A"])


def test_model_reading_compares_plate_by_plate():
    from lpr_edge.evaluation.harness import ModelReading
    from lpr_edge.evaluation.metrics import score

    labels = ["AB1", "CD2", "EF3", "GH4"]
    ref = ModelReading("fp32", ["AB1", "CD2", "XX", "GH4"], labels, score(["AB1", "CD2", "XX", "GH4"], labels))
    cand = ModelReading("int8", ["AB1", "YY", "EF3", "GH4"], labels, score(["AB1", "YY", "EF3", "GH4"], labels))
    change = cand.against(ref)
    assert (change.changed, change.gained, change.lost) == (2, 1, 1) and cand.agreement(ref) == 0.5


def test_a_crop_listed_twice_with_two_labels_is_refused_and_a_repeat_is_skipped(tmp_path):
    """It used to be kept twice, silently, one of its labels wrong."""
    import cv2

    (tmp_path / "a.png").write_bytes(cv2.imencode(".png", np.zeros((20, 60, 3), np.uint8))[1].tobytes())
    (tmp_path / "labels.csv").write_text("file,text\na.png,ABC123\na.png,ABC123\n", encoding="utf-8")
    ds = load_dataset(tmp_path)
    assert [s.text for s in ds] == ["ABC123"] and ds.skipped == ["line 3: a.png: listed again (line 2)"]
    (tmp_path / "labels.csv").write_text("file,text\na.png,ABC123\na.png,ABC128\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="line 3 labels a.png 'ABC128', line 2 'ABC123'"):
        load_dataset(tmp_path)
