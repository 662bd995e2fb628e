"""The synthetic generator, a tiny training run, and export to the TAO contract."""
from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from lpr_edge import synth
from lpr_edge.errors import InputError
from lpr_edge.formats.onnx_spec import spec_from_model

torch = pytest.importorskip("torch")


def test_generator_is_deterministic_and_plausible():
    a, b = synth.generate(12, seed=5), synth.generate(12, seed=5)
    assert [p.text for p in a] == [p.text for p in b]
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))
    assert [p.text for p in synth.generate(12, seed=6)] != [p.text for p in a]
    lengths = {len(p.text) for p in synth.generate(200, seed=1)}
    assert min(lengths) >= 4 and max(lengths) <= 8
    for p in a:
        assert p.image.dtype == np.uint8 and p.image.ndim == 3 and p.image.shape[2] == 3
        assert set(p.text) <= set(synth.LETTERS + synth.DIGITS)


def test_a_runs_plate_styles_reach_its_cached_synthetic_pool(tmp_path):
    """--synth-plain-ones and --synth-stacked (as every plate style) go into the pool a run renders and into
    its cache's name; the cache is read back as written."""
    from lpr_edge.train.data import pool_styles, synth_pool
    from lpr_edge.train.options import TrainOptions

    opts = TrainOptions(augment="world", synth_graphics=0.3, synth_plain_ones=1.0, synth_stacked=0.5)
    kw = pool_styles(opts)
    styles = kw["styles"]
    assert styles.plain_ones == 1.0 and styles.graphics == 0.3 and styles.stacked == 0.5 and styles.emblems
    images, texts = synth_pool(40, 3, tmp_path, progress=False, **kw)
    (cache,) = tmp_path.glob("synth_pool_*.npz")
    assert cache.name == "synth_pool_us_emblems_graphics0.3_plain11_stacked0.5_3_40.npz"  # earlier runs' caches
    again, texts_again = synth_pool(40, 3, tmp_path, progress=False, **kw)
    assert np.array_equal(images, again) and texts == texts_again
    plain, _ = synth_pool(40, 3, None, progress=False, layout="us", styles=dataclasses.replace(styles, plain_ones=0.0))
    with_one = [i for i, t in enumerate(texts) if "1" in t]
    assert with_one and not np.array_equal(images[with_one[0]], plain[with_one[0]])


def test_tiny_training_lowers_loss_and_exports_contract(tmp_path):
    from lpr_edge.cli import main
    from lpr_edge.train.export import export_onnx
    from lpr_edge.train.loop import build_parser, train

    argv = ["--out", str(tmp_path / "run"), "--real", "", "--steps", "30", "--batch", "8", "--lr", "3e-3",
            "--synth", "24", "--workers", "0", "--widths", "8,16,16", "--head", "32", "--no-progress",
            "--ckpt-every", "10", "--threads", "1", "--ema", "0.9"]
    assert main(["train", *argv]) == 0  # through the CLI, as users run it
    best = tmp_path / "run" / "best.pt"
    args = build_parser().parse_args(argv)
    import json

    assert json.loads((tmp_path / "run" / "summary.json").read_text())["args"]["steps"] == 30

    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    crops = [p.image for p in synth.generate(4, seed=9)]
    report = export_onnx(best, tmp_path / "m.onnx", check_images=crops)
    assert report["argmax_equal"] == 1.0 and report["max_abs_diff"] < 1e-4
    model = onnx.load(tmp_path / "m.onnx")
    onnx.checker.check_model(model)
    assert spec_from_model(model).input_name == "image_input"
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    outs = sess.run(None, {"image_input": np.zeros((3, 3, 48, 96), np.float32)})
    assert outs[0].shape == (3, 24) and outs[0].dtype == np.int32 and outs[1].dtype == np.float32
    # resume: the same command picks up last.pt (here: already finished, so nothing more runs)
    train(args)
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 30
    args.steps = 35
    with pytest.raises(InputError, match="--steps 30"):
        train(args)


def test_device_auto_falls_back_to_the_cpu(monkeypatch):
    import torch

    from lpr_edge.train.loop import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(InputError, match="no CUDA GPU"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"


def test_loader_workers_draw_different_streams():
    """With --workers 2 the loader must not hand out each batch twice (one stream per worker)."""
    from torch.utils.data import DataLoader

    from lpr_edge.train.data import PlateStream, collate
    from lpr_edge.train.setup import default_spec

    rng = np.random.default_rng(3)
    plates = [synth.render(rng, "us") for _ in range(16)]  # the training pool's fixed-size plates
    images = np.stack([p.image for p in plates])
    stream = PlateStream(default_spec(), images, [p.text for p in plates], [], [], seed=4)

    def batches(workers: int) -> list:
        loader = DataLoader(stream, batch_size=4, collate_fn=collate, num_workers=workers)
        it = iter(loader)
        return [next(it)[0] for _ in range(4)]

    single, two = batches(0), batches(2)
    assert torch.equal(single[0], two[0])  # worker 0 keeps the single-process stream
    assert not torch.equal(two[0], two[1])  # worker 1's first batch is not worker 0's again
    assert torch.equal(batches(2)[1], two[1])  # and is still seeded


def test_oversample_draws_real_crops_with_the_symbols_more_often(tmp_path, capsys):
    from lpr_edge.cli import main
    from lpr_edge.train.data import PlateStream, encode_label, oversample_weights
    from lpr_edge.train.setup import default_spec

    spec = default_spec()
    labels = [encode_label(t, spec) for t in ("ABC123", "DDD444", "XYZ789", "QRS555")]
    assert oversample_weights("DQ=3", spec, labels) == [1.0, 3.0, 1.0, 3.0]
    assert oversample_weights(None, spec, labels) is None
    with pytest.raises(InputError, match="not among the model's symbols"):
        oversample_weights("O=2", spec, labels)  # the US alphabet reads O as 0
    # Each real crop a distinct flat grey, so the drawn one can be told from the image: 3:1 as asked.
    images = [np.full((40, 120, 3), 40 * (k + 1), np.uint8) for k in range(4)]
    stream = PlateStream(spec, np.zeros((1, 100, 200, 3), np.uint8), ["ABC123"], images, labels,
                         real_fraction=1.0, seed=0, real_weights=[1.0, 3.0, 1.0, 3.0])
    drawn = [tuple(lbl) for _, (_, lbl, _) in zip(range(800), stream)]
    counts = [drawn.count(tuple(lbl)) for lbl in labels]
    assert 2.4 < (counts[1] + counts[3]) / (counts[0] + counts[2]) < 3.6
    # A malformed share is refused before anything is written.
    assert main(["train", "--out", str(tmp_path / "no"), "--oversample", "ODQ", "--steps", "5"]) == 2
    assert "--oversample 'ODQ'" in capsys.readouterr().err and not (tmp_path / "no").exists()


def test_aligner_starts_as_identity_and_zooms_like_a_centre_crop():
    import cv2

    from lpr_edge.train.model import Aligner

    rng = np.random.default_rng(0)
    small = rng.random((3, 24, 48)).astype(np.float32)
    x = torch.from_numpy(cv2.resize(small.transpose(1, 2, 0), (96, 48), interpolation=cv2.INTER_LINEAR)
                         .transpose(2, 0, 1).copy())[None]
    align = Aligner().eval()
    with torch.no_grad():
        assert torch.allclose(align(x), x, atol=1e-5)  # zero-initialised head: identity
        align.loc[-1].bias.copy_(torch.atanh(torch.tensor([-1.0, 0.0, -1.0, 0.0]) * 0.999))  # zoom x2 both axes
        zoomed = align(x)[0].numpy()
    # Reading the centre half at twice the size is the same as resizing that half up (bilinear).
    centre = x[0, :, 12:36, 24:72].numpy().transpose(1, 2, 0)
    want = cv2.resize(centre, (96, 48), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    assert np.abs(zoomed - want)[:, 2:-2, 2:-2].mean() < 0.02


def test_a_second_look_composes_with_the_first():
    """--align-passes 2: the head looks again at the crop as the first look framed it; the two
    transforms compose (zoom times zoom, shift carried through) and the crop is resampled once."""
    from lpr_edge.train.model import Aligner

    x = torch.rand(2, 3, 48, 96)
    one, two = Aligner().eval(), Aligner(passes=2).eval()
    with torch.no_grad():
        for a in (one, two):  # a constant look: zoom 0.75, shift 0.1 along x; zoom 0.8 along y
            a.loc[-1].bias.copy_(torch.atanh(torch.tensor([-0.25 / 0.5, 0.1 / 0.5, -0.2 / 0.5, 0.0])))
        want = torch.tensor([0.75 * 0.75, 0.75 * 0.1 + 0.1, 0.8 * 0.8, 0.0])
        assert torch.allclose(one.params(x), want.new_tensor([0.75, 0.1, 0.8, 0.0]).expand(2, 4), atol=1e-5)
        assert torch.allclose(two.params(x), want.expand(2, 4), atol=1e-5)
        assert torch.allclose(two(x), two.resample(x, want.expand(2, 4)), atol=1e-5)
        torch.nn.init.normal_(two.loc[-1].weight, std=0.05)  # a look that depends on the pixels
        assert torch.allclose(two(x), two.resample(x, two.params(x)), atol=1e-5)


def test_aligned_model_trains_and_exports_without_gridsample(tmp_path):
    from lpr_edge.cli import main
    from lpr_edge.train.export import export_onnx, load_checkpoint

    argv = ["train", "--out", str(tmp_path / "run"), "--real", "", "--steps", "6", "--batch", "4", "--synth", "8",
            "--workers", "0", "--widths", "8,16,16", "--head", "16", "--no-progress", "--threads", "1", "--align"]
    assert main(argv) == 0
    net, _ = load_checkpoint(tmp_path / "run" / "best.pt")
    assert net.align is not None
    crops = [p.image for p in synth.generate(4, seed=2)]
    report = export_onnx(tmp_path / "run" / "best.pt", tmp_path / "a.onnx", check_images=crops)
    assert report["argmax_equal"] == 1.0 and report["max_abs_diff"] < 1e-4
    ops = {n.op_type for n in onnx.load(tmp_path / "a.onnx").graph.node}
    assert "MatMul" in ops and "GridSample" not in ops


def test_sigterm_writes_last_checkpoint(tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    argv = ["--out", str(out), "--real", "", "--steps", "100000", "--batch", "4", "--synth", "8", "--workers", "0",
            "--widths", "8,16,16", "--head", "16", "--no-progress", "--threads", "1", "--ckpt-every", "100000"]
    proc = subprocess.Popen([sys.executable, "-m", "lpr_edge.train", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = out / "log.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0]
    assert "last.pt saved" in output
    step = torch.load(out / "last.pt", weights_only=False)["step"]
    assert step >= 3 and step == json.loads(log.read_text().splitlines()[-1])["step"]
    # --ckpt-every 100000: without the signal handling no checkpoint would exist yet


def test_gpu_sweep_script_runs_on_the_cpu(tmp_path):
    """benchmarks/gpu/train_sweep.py, the lent-GPU training sweep, with --device cpu and a tiny budget."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from lpr_edge.train.options import DEFAULT_REAL

    if not DEFAULT_REAL.exists():
        pytest.skip("needs ../shared/data/openalpr-us-states")
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu" / "train_sweep.py"
    subprocess.run([sys.executable, str(script), "--data", str(DEFAULT_REAL), "--out", str(tmp_path / "out"),
                    "--work", str(tmp_path / "work"), "--device", "cpu", "--steps", "6", "--synth", "8",
                    "--workers", "0", "--only", "world_2x"], check=True, capture_output=True, timeout=300)
    report = json.loads((tmp_path / "out" / "sweep.json").read_text())
    run = report["runs"]["world_2x"]
    assert run["finished"] and run["steps_done"] == 6 and run["parts"] == ["world_2x.tar"]
    import tarfile

    with tarfile.open(tmp_path / "out" / "world_2x.tar") as tar:
        assert {"world_2x/final.pt", "world_2x/best.pt", "world_2x/log.jsonl"} <= set(tar.getnames())


def test_gpu_sweep_finishes_each_recipe_at_its_own_step_count():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu" / "train_sweep.py"
    spec = importlib.util.spec_from_file_location("train_sweep", path)
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    assert sweep.run_steps(["--seed", "1", "--steps", "3000", "--steps", "2000"], 9000) == 2000  # argparse: last wins
    assert sweep.run_steps(sweep.RECIPES["world_2x"], 9000) == 9000
    assert sweep.run_steps(sweep.RECIPES["align_box_s1"], 9000) == 3000


def test_hard_examples_replays_the_highest_loss_plates_per_character():
    from lpr_edge.train.hard_examples import HardExamples

    miner = HardExamples(0.5, batch=4, seed=0)
    images = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 3, 2, 2).clone()
    targets = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])   # labels of lengths 1, 2, 3, 4
    lengths = torch.tensor([1, 2, 3, 4])
    same = miner.extend(images, targets, lengths)
    assert same[0] is images  # nothing to replay yet
    # losses per character 1.0, 3.0, 0.5, 2.5 -> plates 1 and 3 are the hardest
    miner.keep(images, targets, lengths, torch.tensor([1.0, 6.0, 1.5, 10.0]) / lengths)
    assert sorted(lbl for _, lbl in miner.items) == [[2, 3], [7, 8, 9, 10]]
    big, tgt, lens = miner.extend(images, targets, lengths)
    assert big.shape[0] == 6 and lens.tolist()[:4] == [1, 2, 3, 4] and sorted(lens.tolist()[4:]) == [2, 4]
    assert {float(v) for v in big[4:, 0, 0, 0]} == {1.0, 3.0}
    assert tgt.numel() == int(lens.sum())  # targets stay aligned with their lengths
    with pytest.raises(ValueError):
        HardExamples(0.0, 4)


def test_training_with_hard_mining_runs(tmp_path):
    from lpr_edge.cli import main

    argv = ["train", "--out", str(tmp_path / "run"), "--real", "", "--steps", "6", "--batch", "4", "--synth", "8",
            "--workers", "0", "--widths", "8,16,16", "--head", "16", "--no-progress", "--threads", "1",
            "--hard-mining", "0.5"]
    assert main(argv) == 0
    assert (tmp_path / "run" / "best.pt").exists()


def test_calibration_keeps_the_aligner_and_the_stem_float(tmp_path):
    """--keep-float's default (first,last,align) leaves the spatial transformer out of INT8, and
    'first' still means the backbone's stem, not the aligner's own convolution."""
    from lpr_edge.cli import main
    from lpr_edge.toolchain.calibrate import KEEP_FLOAT, float_kept_tensors
    from lpr_edge.train.export import export_onnx

    argv = ["train", "--out", str(tmp_path / "run"), "--real", "", "--steps", "5", "--batch", "4", "--synth", "8",
            "--workers", "0", "--widths", "8,16,16", "--head", "16", "--no-progress", "--threads", "1", "--align"]
    assert main(argv) == 0
    export_onnx(tmp_path / "run" / "best.pt", tmp_path / "a.onnx")
    model = onnx.load(tmp_path / "a.onnx")
    kept = float_kept_tensors(model, list(KEEP_FLOAT))
    nodes = {n.name: n for n in model.graph.node}
    inits = {i.name for i in model.graph.initializer}
    aligner = [n for n in model.graph.node if "/align/" in n.name]
    assert len(aligner) > 10 and {"MatMul", "Gemm", "Concat"} <= {n.op_type for n in aligner}
    assert all(t in kept for n in aligner for t in n.input if t and t not in inits)
    stem = nodes["/net/stem/stem.0/Conv"]
    assert stem.input[0] in kept  # the resampled crop the stem reads
    assert "/net/align/MatMul_1_output_0" in kept
    without = float_kept_tensors(model, ["first", "last"])
    assert not any(t in without for n in aligner if n.op_type == "Concat" for t in n.input if t not in inits)


def test_frame_is_the_aligner_parameters_that_frame_the_box():
    from lpr_edge.train.data import frame

    assert frame((0, 0, 200, 100), 200, 100).tolist() == [1.0, 0.0, 1.0, 0.0]  # the whole crop: identity
    # The right half, middle rows: half the size, centred at x = +0.5.
    assert np.allclose(frame((100, 25, 200, 75), 200, 100).tolist(), [0.5, 0.5, 0.5, 0.0])
    # A box beyond the crop (a detector cutting into the plate) is cut at the crop's edge.
    assert np.allclose(frame((-20, -10, 180, 110), 200, 100).tolist(), [0.9, -0.1, 1.0, 0.0])


def test_align_box_teaches_the_aligner_where_the_plate_is(tmp_path, capsys):
    import json

    from lpr_edge.cli import main

    argv = ["train", "--out", str(tmp_path / "run"), "--real", "", "--steps", "40", "--batch", "16", "--synth", "32",
            "--workers", "0", "--widths", "8,16,16", "--head", "16", "--no-progress", "--threads", "1", "--align",
            "--align-box", "10", "--augment", "world", "--lr", "3e-3"]  # box loss leads
    assert main(argv) == 0
    box = [json.loads(line)["box_loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(box) == 40 and np.mean(box[-10:]) < 0.8 * np.mean(box[:5])
    # Nothing to teach without --align: refused, naming the flag.
    assert main([*argv[:argv.index("--align")], "--align-box", "1.0", "--out", str(tmp_path / "no")]) == 2
    assert "--align-box 1.0" in capsys.readouterr().err and not (tmp_path / "no").exists()
    assert main([*argv[:argv.index("--align")], "--align-passes", "2", "--out", str(tmp_path / "no")]) == 2
    assert "--align-passes 2" in capsys.readouterr().err and not (tmp_path / "no").exists()
    # The border marks belong to the world augmentation: another share without it is refused.
    camera = argv[:argv.index("--align")]  # no --augment: the camera augmentation
    assert main([*camera, "--border-marks", "0.1", "--out", str(tmp_path / "no")]) == 2
    assert "--border-marks 0.1" in capsys.readouterr().err and not (tmp_path / "no").exists()
    assert main([*camera, "--tight-margin", "0.08", "--out", str(tmp_path / "no")]) == 2
    assert "--tight-margin 0.08" in capsys.readouterr().err and not (tmp_path / "no").exists()
    # The plate font's O is a Brazilian synthetic layout's: refused for US plates.
    assert main([*argv[:argv.index("--align")], "--synth-plate-o", "0.5", "--out", str(tmp_path / "no")]) == 2
    assert "--synth-plate-o 0.5" in capsys.readouterr().err and not (tmp_path / "no").exists()
    assert main([*camera, "--synth-plate-d", "0.5", "--out", str(tmp_path / "no")]) == 2
    assert "--synth-plate-d 0.5" in capsys.readouterr().err and not (tmp_path / "no").exists()
    # Printed pictures, stroke fonts, plain ones and stacked characters are drawn on US-like plates only,
    # at a share 0 to 1.
    for bad in (["--synth-graphics", "0.3", "--synth-layout", "br"], ["--synth-graphics", "1.5"],
                ["--synth-stroke-fonts", "0.3", "--synth-layout", "br"], ["--stroke-weight", "1.5"],
                ["--synth-plain-ones", "0.3", "--synth-layout", "br"], ["--synth-plain-ones", "-0.1"],
                ["--synth-stacked", "0.3", "--synth-layout", "br"], ["--synth-stacked", "2"]):
        assert main([*camera, *bad, "--out", str(tmp_path / "no")]) == 2
        assert f"{bad[0]} {float(bad[1])}" in capsys.readouterr().err and not (tmp_path / "no").exists()


def test_aligner_framing_benchmark_knows_the_true_framing(tmp_path):
    """benchmarks/aligner_framing.py on real plates cut at known margins: the true zoom is the box's share."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from lpr_edge.cli import main

    root = Path(__file__).resolve().parents[2]
    data = root.parent / "shared" / "data" / "openalpr-br-context"
    if not data.exists():
        pytest.skip("needs ../shared/data/openalpr-br-context")
    argv = ["train", "--out", str(tmp_path / "run"), "--real", "", "--steps", "5", "--batch", "4", "--synth", "8",
            "--workers", "0", "--widths", "8,16,16", "--head", "16", "--no-progress", "--threads", "1", "--align",
            "--lr", "1e-5"]
    assert main(argv) == 0
    subprocess.run([sys.executable, str(root / "benchmarks" / "aligner_framing.py"), str(tmp_path / "run" / "best.pt"),
                    "--data", str(data), "--margin", "0,0.25", "--json", str(tmp_path / "f.json"),
                    "--image", str(tmp_path / "f.png")],
                   check=True, capture_output=True, timeout=300)
    rows = json.loads((tmp_path / "f.json").read_text())["margins"]
    assert np.allclose(rows[0]["true_zoom_xy"], 1.0, atol=1e-6)  # the box itself: nothing to zoom
    assert 0.64 < rows[1]["true_zoom_xy"][0] < 0.70  # 25 % per side: the plate is 1/1.5 of the crop
    assert rows[0]["mae"] < 0.01 < 0.1 < rows[1]["mae"]  # a near-identity aligner frames the tight crop only
    import cv2

    # 6 plates x (input above aligned output), 2 margins, a header line
    assert cv2.imread(str(tmp_path / "f.png")).shape == (18 + 6 * (2 * 48 + 4), 2 * (96 + 4), 3)
