"""Fine-tuning to a new region: warm start from the bundled model, charset change, label checks."""
from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="fine-tuning needs the train extra (PyTorch)")

from lpr_edge import synth  # noqa: E402
from lpr_edge.bundled import bundled_path, resolve_model  # noqa: E402
from lpr_edge.errors import DatasetError, ModelFileError  # noqa: E402
from lpr_edge.spec import ModelSpec  # noqa: E402

BR_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def br_folder(tmp_path, n=12, bad_row=None):
    rng = np.random.default_rng(3)
    folder = tmp_path / "br"
    (folder / "images").mkdir(parents=True)
    with open(folder / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text", "region"])
        for i in range(n):
            plate = synth.render_br(rng, extras=False)
            cv2.imwrite(str(folder / "images" / f"{i}.png"), plate.image)
            w.writerow([f"images/{i}.png", bad_row if i == 5 and bad_row else plate.text, "br"])
    return folder


def test_bundled_names_resolve_and_files_win(tmp_path, monkeypatch):
    assert resolve_model(None) == bundled_path("us") and resolve_model("us") == bundled_path("us")
    assert resolve_model("other.onnx").name == "other.onnx"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "us").write_bytes(b"")
    assert resolve_model("us").resolve() == (tmp_path / "us").resolve()  # a file of that name wins
    with pytest.raises(ModelFileError, match="bundled models: us, br"):
        bundled_path("xx")


def test_warm_start_copies_shared_rows_and_starts_o_from_the_us_zero():
    from lpr_edge.train.warm_start import load_source, prepare

    source = load_source("us")
    old_w = source.net.classifier.weight.detach().clone()
    old = source.spec
    new = old.replace(charset=BR_CHARSET, blank=36, label_map={})
    images = [p.image for p in synth.generate(16, seed=4)]
    x = torch.from_numpy(__import__("lpr_edge.runtime.preprocess", fromlist=["x"]).preprocess_batch(images, old))
    source.net.eval()
    with torch.no_grad():
        before = source.net(x).argmax(-1)
    start = prepare(source, new, images)
    w = start.net.classifier.weight.detach()
    assert w.shape[0] == 37 and start.fresh_classes == []
    for sym in "AZ9":
        assert torch.equal(w[new.class_symbols.index(sym)], old_w[old.class_symbols.index(sym)])
    assert torch.equal(w[new.class_symbols.index("O")], old_w[old.class_symbols.index("0")])  # US read O as 0
    assert torch.equal(w[36], old_w[35])  # blank -> blank
    start.net.eval()
    with torch.no_grad():
        after = start.net(x)
    # Unfolding the batch norms keeps the function: the same classes win where the symbols are shared.
    keep = [i for i, s in enumerate(new.class_symbols) if s != "O"]
    remap = torch.tensor([old.class_symbols.index(new.class_symbols[i]) for i in keep])
    assert torch.equal(remap[after[..., keep].argmax(-1)], before)


def test_a_symbol_with_no_source_gets_a_fresh_row():
    from lpr_edge.train.model import LPRNet
    from lpr_edge.train.warm_start import remap_classifier

    net = LPRNet(4, (8, 8, 8), 16)
    old = ModelSpec(name="a", charset="ABC", blank=3)
    copied, fresh = remap_classifier(net, old, old.replace(charset="ABCX", blank=4), head=16)
    assert fresh == ["X"] and copied == ["A", "B", "C", "<blank>"] and net.classifier.weight.shape[0] == 5


def test_labels_outside_the_charset_are_refused_with_file_and_row(tmp_path):
    from lpr_edge.cli import main

    folder = br_folder(tmp_path, bad_row="AB-1234")
    with pytest.raises(DatasetError, match=r"labels.csv line 7 .*5\.png.*'AB-1234' has -"):
        from lpr_edge.train.loop import train
        from lpr_edge.train.options import TrainOptions

        train(TrainOptions(out=str(tmp_path / "run"), real=str(folder), init="us", charset=BR_CHARSET,
                           label_map="", steps=5))
    assert main(["train", "--out", str(tmp_path / "run2"), "--data", str(folder), "--init", "us",
                 "--charset", BR_CHARSET, "--label-map", "", "--steps", "5"]) == 2


def fixes_csv(tmp_path, fixes: dict):
    path = tmp_path / "fixes.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text", "note"])
        w.writerows([f, t, "test"] for f, t in fixes.items())
    return path


def test_a_correction_outside_the_charset_is_refused(tmp_path, capsys):
    from lpr_edge.cli import main

    folder = br_folder(tmp_path)
    assert main(["train", "--out", str(tmp_path / "run"), "--data", str(folder), "--init", "us", "--charset",
                 BR_CHARSET, "--label-map", "", "--steps", "5",
                 "--relabel", str(fixes_csv(tmp_path, {"images/3.png": "AB-1234"}))]) == 2
    assert "outside the charset" in capsys.readouterr().err


def test_fine_tune_a_few_steps_through_the_cli(tmp_path):
    import json

    from lpr_edge.cli import main
    from lpr_edge.formats.onnx_spec import load_onnx, spec_from_model

    folder = br_folder(tmp_path)
    argv = ["train", "--out", str(tmp_path / "run"), "--data", str(folder), "--init", "us", "--charset", BR_CHARSET,
            "--label-map", "", "--name", "lprnet_br", "--synth-layout", "br", "--synth", "16", "--steps", "6",
            "--batch", "8", "--eval-every", "3", "--workers", "0", "--threads", "1", "--freeze", "stem",
            "--relabel", str(fixes_csv(tmp_path, {"images/2.png": "ABC1234", "images/7.png": ""}))]
    assert main(argv) == 0
    used = {}
    for side in ("train", "val"):
        with open(tmp_path / "run" / f"{side}.csv", newline="") as fh:
            used.update({row["file"]: row["text"] for row in csv.DictReader(fh)})
    assert len(used) == 11 and used[str(folder / "images" / "2.png")] == "ABC1234"  # corrected; 7.png left out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["args"]["init"] == "us" and summary["steps"] == 6
    assert main(["export", str(tmp_path / "run" / "last.pt"), "-o", str(tmp_path / "br.onnx")]) == 0
    spec = spec_from_model(load_onnx(tmp_path / "br.onnx"))
    assert (spec.name, spec.charset, spec.blank, spec.label_map) == ("lprnet_br", BR_CHARSET, 36, {})


def test_models_with_a_retired_aligner_are_refused_naming_the_tag(tmp_path, capsys):
    """Checkpoints and ONNX exports of the retired --align option get one line naming the git tag that
    still reads them."""
    import onnx
    from onnx import helper

    from lpr_edge.bundled import bundled_path
    from lpr_edge.cli import main
    from lpr_edge.train.checkpoint import RETIRED_TAG

    argv = ["train", "--out", str(tmp_path / "run"), "--data", "", "--steps", "5", "--batch", "4", "--synth", "8",
            "--workers", "0", "--widths", "8,16,16", "--head", "16", "--threads", "1"]
    assert main(argv) == 0
    ck = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    torch.save({**ck, "align": True, "align_passes": 1}, tmp_path / "aligned.pt")
    assert main(["export", str(tmp_path / "aligned.pt"), "-o", str(tmp_path / "a.onnx")]) == 2
    err = capsys.readouterr().err
    assert "learnt aligner" in err and RETIRED_TAG in err and not (tmp_path / "a.onnx").exists()
    model = onnx.load(bundled_path("us"))
    model.graph.node.insert(0, helper.make_node("Gemm", ["a", "b"], ["c"], name="/net/align/loc/Gemm"))
    onnx.save(model, tmp_path / "aligned.onnx")
    assert main([*argv[:2], str(tmp_path / "again"), *argv[3:], "--init", str(tmp_path / "aligned.onnx")]) == 2
    assert RETIRED_TAG in capsys.readouterr().err
