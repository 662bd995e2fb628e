"""Weight averages of fine-tuning runs (``lpr-edge export onnx A.pt B.pt``): what is averaged, what is refused;
and prediction ensembles (``--ensemble-with``), which combine networks the average refuses."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="averaging checkpoints needs the train extra (PyTorch)")

from lpr_edge import synth  # noqa: E402
from lpr_edge.cli import main  # noqa: E402

TINY = ["--real", "", "--batch", "4", "--synth", "8", "--workers", "0", "--widths", "8,16,16", "--head", "16",
        "--threads", "1", "--lr", "0.05"]


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
    from lpr_edge.train.checkpoint import load_checkpoint
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
    ck = torch.load(runs["b"], weights_only=False)
    other = tmp_path / "other.pt"
    torch.save({**ck, "head": ck["head"] * 2}, other)
    assert main(["export", str(runs["a"]), str(other), "-o", str(tmp_path / "s.onnx")]) == 2
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


def _member_readings(paths, x):
    from lpr_edge.train.checkpoint import load_checkpoint

    with torch.no_grad():
        return [torch.softmax(load_checkpoint(p)[0](x), dim=-1).max(dim=-1) for p in paths]


def _crops(spec, n=16):
    from lpr_edge.runtime.preprocess import preprocess_batch

    return preprocess_batch([p.image for p in synth.generate(n, seed=5)], spec)


def test_an_ensemble_gives_each_plate_the_reading_of_its_most_confident_member(runs):
    from lpr_edge.train.checkpoint import load_checkpoint
    from lpr_edge.train.model import TaoHeads

    (a, spec), (b, _) = load_checkpoint(runs["base"]), load_checkpoint(runs["elsewhere"])
    x = torch.from_numpy(_crops(spec))
    (sa, ia), (sb, ib) = _member_readings([runs["base"], runs["elsewhere"]], x)
    with torch.no_grad():
        idx, scores = TaoHeads(a, b).eval()(x)
    take_b = sb.log().sum(dim=1) > sa.log().sum(dim=1)
    assert 0 < int(take_b.sum()) < len(x)  # both members win some plates: the choice is exercised
    assert torch.equal(idx, torch.where(take_b[:, None], ib, ia).to(torch.int32))
    assert torch.equal(scores, torch.where(take_b[:, None], sb, sa))


def test_export_with_ensemble_members_runs_in_onnx_runtime_as_in_pytorch(runs, tmp_path, capsys):
    import onnxruntime as ort

    from lpr_edge.formats.onnx_spec import load_onnx, spec_from_model

    out = tmp_path / "ensemble.onnx"
    # two runs from different starts: the weight average refuses them, an ensemble takes them
    assert main(["export", str(runs["a"]), str(runs["b"]), "--ensemble-with", str(runs["elsewhere"]),
                 "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "a prediction ensemble of 2 networks" in said and "argmax equal 1.0000" in said
    spec = spec_from_model(load_onnx(out))
    assert spec.framing == {}  # fitted for the ensemble, never inherited
    x = _crops(spec)
    idx, scores = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {spec.input_name: x})
    from lpr_edge.train.soup import average_checkpoints

    soup, _ = average_checkpoints([runs["a"], runs["b"]])
    with torch.no_grad():
        first = torch.softmax(soup(torch.from_numpy(x)), dim=-1).argmax(dim=-1).numpy()
    (_, second), = _member_readings([runs["elsewhere"]], torch.from_numpy(x))
    # every plate is read whole by one member: the soup of a and b, or the run from elsewhere
    assert all((row == f).all() or (row == s).all() for row, f, s in zip(idx, first, second.numpy()))
    # fine-tuning needs one network, and says so
    assert main(["train", "--out", str(tmp_path / "ft"), *TINY, "--steps", "5", "--init", str(out)]) == 2
    assert "a prediction ensemble of 2 networks" in capsys.readouterr().err
    assert idx.dtype == "int32" and idx.shape == scores.shape == (len(x), spec.time_steps)


def test_the_mean_combiner_averages_probabilities_per_slice(runs):
    from lpr_edge.train.checkpoint import load_checkpoint
    from lpr_edge.train.model import TaoHeads

    (a, spec), (b, _) = load_checkpoint(runs["base"]), load_checkpoint(runs["elsewhere"])
    x = torch.from_numpy(_crops(spec))
    with torch.no_grad():
        mean = (torch.softmax(a(x), dim=-1) + torch.softmax(b(x), dim=-1)) / 2
        idx, scores = TaoHeads(a, b, combine="mean").eval()(x)
    assert torch.allclose(scores, mean.max(dim=-1).values) and torch.equal(idx, mean.argmax(dim=-1).to(torch.int32))


def test_ensemble_members_that_read_other_characters_are_refused(runs, tmp_path, capsys):
    ck = torch.load(runs["b"], map_location="cpu", weights_only=False)
    ck["spec"]["label_map"] = {**ck["spec"]["label_map"], "Q": "0"}
    other = tmp_path / "other_spec.pt"
    torch.save(ck, other)
    out = tmp_path / "e.onnx"
    assert main(["export", str(runs["a"]), "--ensemble-with", str(other), "-o", str(out)]) == 2
    assert "members of one ensemble must read the same characters" in capsys.readouterr().err and not out.exists()
    assert main(["export", str(runs["a"]), "--ensemble-with", ",", "-o", str(out)]) == 2
    assert "--ensemble-with needs a checkpoint" in capsys.readouterr().err
    assert main(["export", str(runs["a"]), "--combine", "mean", "-o", str(out)]) == 2
    assert "--combine mean: combines the members of an ensemble" in capsys.readouterr().err and not out.exists()

