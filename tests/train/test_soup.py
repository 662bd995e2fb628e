"""Weight averages of fine-tuning runs (``lpr-edge export onnx A.pt B.pt``): what is averaged, what is refused."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="averaging checkpoints needs the train extra (PyTorch)")

from lpr_edge import synth  # noqa: E402
from lpr_edge.cli import main  # noqa: E402

TINY = ["--real", "", "--batch", "4", "--synth", "8", "--workers", "0", "--widths", "8,16,16", "--head", "16",
        "--no-progress", "--threads", "1", "--lr", "0.05"]


def train(out, *extra):
    assert main(["train", "--out", str(out), *TINY, *extra]) == 0
    return out / "last.pt"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny run from scratch, two seeds fine-tuned from it, and one fine-tuned from elsewhere."""
    root = tmp_path_factory.mktemp("soup")
    base = train(root / "base", "--steps", "6")
    other = train(root / "other", "--steps", "5", "--seed", "9")
    return {"base": base, "a": train(root / "a", "--steps", "5", "--init", str(base), "--seed", "1"),
            "b": train(root / "b", "--steps", "5", "--init", str(base), "--seed", "2"),
            "elsewhere": train(root / "c", "--steps", "5", "--init", str(other), "--seed", "1")}


def test_the_average_is_the_mean_of_every_weight_and_statistic(runs):
    from lpr_edge.runtime.preprocess import preprocess_batch
    from lpr_edge.train.export import load_checkpoint
    from lpr_edge.train.soup import average_checkpoints

    net, spec = average_checkpoints([runs["a"], runs["b"]])
    a, b = (load_checkpoint(runs[k])[0].state_dict() for k in "ab")
    state = net.state_dict()
    floats = [k for k, v in state.items() if v.is_floating_point()]
    assert any("running_var" in k for k in floats)  # batch-norm statistics are averaged too
    assert any(not torch.equal(a[k], b[k]) for k in floats)  # the two seeds did differ
    for k in floats:
        assert torch.allclose(state[k], (a[k] + b[k]) / 2)
    same, _ = average_checkpoints([runs["a"], runs["a"]])
    x = torch.from_numpy(preprocess_batch([p.image for p in synth.generate(4, seed=2)], spec))
    with torch.no_grad():
        assert torch.allclose(same(x), load_checkpoint(runs["a"])[0](x), atol=1e-6)


def test_export_with_several_checkpoints_writes_their_average(runs, tmp_path, capsys):
    from lpr_edge.formats.onnx_spec import load_onnx, spec_from_model

    out = tmp_path / "soup.onnx"
    assert main(["export", str(runs["a"]), str(runs["b"]), "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "weight average of 2 runs" in said and "on 64 synthetic crops: argmax equal" in said  # checked, always
    assert spec_from_model(load_onnx(out)).charset  # a complete TAO-contract export


@pytest.mark.parametrize("pair, message", [
    (("base", "a"), "trained from scratch"),
    (("a", "elsewhere"), "average runs that started from the same model"),
])
def test_runs_that_do_not_share_a_start_are_refused(runs, tmp_path, capsys, pair, message):
    out = tmp_path / "soup.onnx"
    assert main(["export", str(runs[pair[0]]), str(runs[pair[1]]), "-o", str(out)]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_another_architecture_is_refused(runs, tmp_path, capsys):
    aligned = train(tmp_path / "aligned", "--steps", "5", "--init", str(runs["base"]), "--align")
    assert main(["export", str(runs["a"]), str(aligned), "-o", str(tmp_path / "s.onnx")]) == 2
    assert "only runs of one architecture" in capsys.readouterr().err


def test_a_file_that_is_not_a_checkpoint_is_named(runs, tmp_path, capsys):
    bad = tmp_path / "notes.pt"
    bad.write_text("not a checkpoint")
    assert main(["export", str(runs["a"]), str(bad), "-o", str(tmp_path / "s.onnx")]) == 2
    assert f"checkpoint {bad} is not an lpr-edge training checkpoint" in capsys.readouterr().err


def test_runs_whose_specs_differ_only_in_framing_are_averaged_without_one(runs, tmp_path):
    # a run started from a model that already carried a framing kept it (before the fifteenth session):
    # a framing is fitted after training, so it neither blocks the average nor carries over to it
    from lpr_edge.train.soup import average_checkpoints

    ck = torch.load(runs["b"], map_location="cpu", weights_only=False)
    ck["spec"]["framing"] = {"margin": 0.1, "pad": "none", "spans": {"7": [0.2, 0.9]}}
    framed = tmp_path / "framed.pt"
    torch.save(ck, framed)
    _, spec = average_checkpoints([runs["a"], framed])
    assert spec.framing == {}


def test_train_says_how_to_export_and_frame_the_model(runs, tmp_path, capsys):
    last = train(tmp_path / "next", "--steps", "5", "--init", str(runs["base"]))
    said = capsys.readouterr().out
    assert f"next: lpr-edge export {last} -o MODEL.onnx" in said and "lpr-edge framing --model MODEL.onnx" in said
