"""Label corrections beside a dataset (--relabel): file format, refusals, and the audits shipped in
benchmarks/label_audits applied to the real datasets."""
from __future__ import annotations

import pytest

from lpr_edge.datasets import load_corrections, load_split
from lpr_edge.errors import DatasetError

from ..conftest import REPO, need

DATA = REPO.parent / "shared" / "data"
AUDITS = REPO / "benchmarks" / "label_audits"


@pytest.mark.parametrize("text, message", [
    ("", "needs a header with 'file' and 'text'"),
    ("file,label\na.png,X\n", "needs a header with 'file' and 'text'"),
    ("file,text\n,ABC\n", "line 2: empty file name"),
    ("file,text\na.png,ABC\na.png,ABD\n", "line 3: a.png is corrected twice"),
])
def test_malformed_corrections_are_refused_with_the_line(tmp_path, text, message):
    path = tmp_path / "fixes.csv"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        load_corrections(path)


def test_a_missing_corrections_file_is_named(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_corrections(tmp_path / "nope.csv")


def test_a_correction_of_a_file_the_dataset_lacks_is_refused(tmp_path):
    path = tmp_path / "fixes.csv"
    path.write_text("file,text\nimages/NOPE123.png,ABC1234\n")
    with pytest.raises(DatasetError, match="does not list, first 'images/NOPE123.png'"):
        load_split(need(DATA / "openalpr-br"), relabel=path)


def test_the_brazilian_audit_corrects_after_the_split():
    data = need(DATA / "openalpr-br-detector")
    audit = AUDITS / "openalpr-br-detector.csv"
    val, _ = load_split(data, "val")
    fixed, skipped = load_split(data, "val", relabel=audit)
    # The split is made on the dataset's own labels: corrections never move a crop across it.
    assert {s.path for s in fixed} == {s.path for s in val} - {data / "images/cv_017580_AAX6523_0294_0322.jpg"}
    assert any("left out by --relabel" in s for s in skipped)
    changed = {s.path.name: s.text for s in fixed if s.note.startswith("relabelled")}
    assert changed == {"cc_014524_ADM1631_0361_0017.jpg": "AOM1631", "cv_014484_AES8805_0241_0197.jpg": "AES6805",
                       "cc_017894_AGB4961_0384_0176.jpg": "AGB1496", "cc_012763_AHT3532_0198_0163.jpg": "ART3532",
                       "cv_015772_MOS0504_0324_0260.jpg": "MDS0504"}
    train, _ = load_split(data, "train")
    fixed_train, _ = load_split(data, "train", relabel=audit)
    assert len(fixed_train) == len(train) - 1  # the empty crop AJW7942


@pytest.mark.parametrize("name", ["openalpr-br", "openalpr-br-context", "openalpr-us-states"])
def test_every_shipped_audit_applies_to_its_dataset(name):
    samples, _ = load_split(need(DATA / name), relabel=AUDITS / f"{name}.csv")
    assert sum(s.note.startswith("relabelled") for s in samples) == 1


def test_eval_reports_what_the_corrections_changed(capsys):
    import json

    from lpr_edge.cli import main

    data = need(DATA / "openalpr-br-detector")
    audit = AUDITS / "openalpr-br-detector.csv"
    assert main(["eval", "--model", "br", "--data", str(data), "--split", "val", "--relabel", str(audit)]) == 0
    assert f"labels as corrected by {audit}: 5 relabelled, 1 crop(s) left out" in capsys.readouterr().out
    assert main(["eval", "--model", "br", "--data", str(data), "--split", "val", "--relabel", str(audit),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["plates"], summary["relabelled"], summary["skipped_rows"]) == (189, 5, 1)
