"""Bad input, damaged files, killed writers, concurrency, and the robot adapter."""
from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from lpr_edge import LprEdgeError, Recognizer
from lpr_edge.batcher import PlateBatcher  # the documented path
from lpr_edge.cli import main as cli
from lpr_edge.errors import ClosedError, InputError
from lpr_edge.evaluation.datasets import load_dataset
from lpr_edge.formats.engine_manifest import read_manifest
from lpr_edge.formats.onnx_spec import load_onnx
from lpr_edge.formats.trt_cache import read_cache

from .conftest import BANDS, REPO, build_toy_model, toy_crop, toy_spec


def bad_crops(rng):
    """A few hundred generated bad or odd inputs."""
    makers = [
        lambda: None, lambda: "crop", lambda: 3.5, lambda: [1, 2, 3],
        lambda: np.zeros((0, int(rng.integers(1, 50)), 3), np.uint8),
        lambda: np.zeros((int(rng.integers(1, 50)), 0), np.uint8),
        lambda: rng.random((10, 20, 3)).astype(np.float32),
        lambda: np.full((10, 20, 3), np.nan, np.float32),
        lambda: np.full((10, 20, 3), np.inf, np.float64),
        lambda: rng.integers(-5, 5, (8, 8, 3)).astype(np.int16),
        lambda: np.zeros((5, 5, 2), np.uint8),
        lambda: np.zeros((2, 5, 5, 3), np.uint8),
        lambda: np.zeros((7,), np.uint8),
        lambda: np.zeros((3, 3, 5), np.uint8),
        lambda: np.lib.stride_tricks.as_strided(np.zeros(3, np.uint8), (30000, 10, 3), (0, 0, 1)),
        lambda: np.array(["a"]),
        lambda: np.zeros((4, 4, 3), bool),
    ]
    return [makers[int(rng.integers(len(makers)))]() for _ in range(300)]


def test_fuzz_recognizer_only_raises_our_errors_and_keeps_working(toy_model_path):
    rng = np.random.default_rng(0)
    spec = toy_spec()
    good = toy_crop(BANDS, spec)
    with Recognizer(toy_model_path, max_batch=4) as rec:
        for bad in bad_crops(rng):
            with pytest.raises(InputError):
                rec.recognize_batch([good, bad] if rng.random() < 0.5 else [bad])
        odd_but_fine = [np.zeros((1, 1), np.uint8), rng.integers(0, 256, (3, 900, 4), dtype=np.uint8),
                        np.ascontiguousarray(rng.integers(0, 256, (50, 20, 3), dtype=np.uint8)[::-1, ::2])]
        assert len(rec.recognize_batch(odd_but_fine)) == 3
        assert rec.recognize(good).text == "ABCA"


@pytest.mark.parametrize("reader, suffix", [(load_onnx, ".onnx"), (read_cache, ".cache"),
                                            (read_manifest, ".engine")])
def test_fuzz_file_readers(tmp_path, reader, suffix):
    rng = np.random.default_rng(1)
    valid = build_toy_model(toy_spec()).SerializeToString()
    for i in range(60):
        kind = i % 4
        data = [b"", rng.bytes(int(rng.integers(1, 4000))), valid[: int(rng.integers(1, len(valid)))],
                b"TRT-8502-Entropy\n" + rng.bytes(50)][kind]
        path = tmp_path / f"f{i}{suffix}"
        path.write_bytes(data)
        if suffix == ".engine":
            (tmp_path / f"f{i}{suffix}.json").write_bytes(rng.bytes(30) if kind else b"{}")
        try:
            reader(path)
        except LprEdgeError:
            pass


def test_fuzz_labels_csv(tmp_path):
    rng = np.random.default_rng(2)
    for i in range(40):
        d = tmp_path / f"d{i}"
        d.mkdir()
        (d / "labels.csv").write_bytes(rng.bytes(int(rng.integers(0, 300))) if i % 2 else
                                       b"file,text\n" + rng.bytes(int(rng.integers(0, 300))))
        try:
            load_dataset(d)
        except LprEdgeError:
            pass


WRITER = """
import sys, time
from lpr_edge.atomic import atomic_open
with atomic_open(sys.argv[1], "wb") as fh:
    for _ in range(1000):
        fh.write(b"new" * 1000)
        fh.flush()
        time.sleep(0.01)
"""


def test_killed_writer_leaves_old_file_intact(tmp_path):
    target = tmp_path / "model.engine"
    target.write_bytes(b"old engine")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=REPO)
    deadline = time.time() + 20
    while not list(tmp_path.glob(".model.engine.*.part")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert target.read_bytes() == b"old engine"


def test_unwritable_output_is_a_clear_error(tmp_path, capsys):
    from lpr_edge.atomic import write_text
    from lpr_edge.cli import main
    from lpr_edge.errors import OutputError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write .*choose a writable path"):
        write_text(blocker / "out.json", "{}")
    assert main(["calibrate", "--from-cache", str(REPO / "calibration" / "lprnet_us.cache"),
                 "--qdq", str(tmp_path / "q.onnx"), "--cpu-qdq", str(blocker / "c.onnx")]) == 2
    assert "cannot write" in capsys.readouterr().err and not list(tmp_path.glob("**/*.part"))


def test_stress_shared_and_per_thread_match_single_thread(toy_model_path):
    spec = toy_spec()
    patterns = [BANDS, ["A"] * 8, ["B", "C"] * 4, ["C", "", "", "A"] * 2]
    crops = [toy_crop(patterns[i % 4], spec) for i in range(13)]
    with Recognizer(toy_model_path, max_batch=4) as rec:
        expect = [r.text for r in rec.recognize_batch(crops)]
    shared = Recognizer(toy_model_path, max_batch=4)
    mismatches, errors = [], []
    stop = time.time() + 2.0

    def run(own):
        r = Recognizer(toy_model_path, max_batch=4) if own else shared
        try:
            while time.time() < stop:
                got = [x.text for x in r.recognize_batch(crops)]
                if got != expect:
                    mismatches.append(got)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            if own:
                r.close()

    threads = [threading.Thread(target=run, args=(k % 2 == 0,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    shared.close()
    assert not mismatches and not errors and not any(t.is_alive() for t in threads)


def test_close_while_calls_in_flight_does_not_deadlock(toy_model_path):
    spec = toy_spec()
    rec = Recognizer(toy_model_path, max_batch=4)
    outcomes = []

    def caller():
        for _ in range(200):
            try:
                rec.recognize_batch([toy_crop(BANDS, spec)] * 4)
                outcomes.append("ok")
            except ClosedError:
                outcomes.append("closed")
                return

    threads = [threading.Thread(target=caller) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    rec.close()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads)
    assert "closed" in outcomes and set(outcomes) <= {"ok", "closed"}


@pytest.mark.parametrize("argv", [
    ["nonsense"], ["recognize"], ["eval"], ["eval", "--data"], ["bench", "--batch", "0"], ["bench", "--iters", "x"],
    ["calibrate", "--method", "kl"], ["calibrate", "--samples", "0", "--onnx", "missing.onnx"],
    ["build", "--batch", "1,2"], ["build", "--fp16", "--int8"], ["build", "--dla", "x"], ["train", "--steps", "x"],
    ["export"], ["convert", "tflite", "x"], ["info", "--nope"], ["recognize", "--model", "missing.onnx", "x.png"],
    ["eval", "--data", "/nonexistent/folder"],
])
def test_cli_bad_arguments_exit_2_with_one_line(capsys, argv):
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err


def test_batcher_batches_filters_and_survives_bad_crops(toy_model_path):
    spec = toy_spec()
    published, errors = [], []
    now = [0.0]
    with Recognizer(toy_model_path, max_batch=4) as rec:
        b = PlateBatcher(rec, published.append, batch_size=3, max_wait_s=0.05, min_confidence=0.5,
                         on_error=lambda tag, exc: errors.append(tag), clock=lambda: now[0])
        b.submit(toy_crop(BANDS, spec), "f1")
        b.submit(toy_crop([""] * 8, spec), "f2")  # empty reading: not published
        assert not published
        b.submit(None, "f3")  # bad crop: reported, the others still read
        assert [r.tag for r in published] == ["f1"] and errors == ["f3"]
        b.submit(toy_crop(["A"] * 8, spec), "f4")
        b.poll()
        assert len(published) == 1
        now[0] = 0.06
        b.poll()
        assert [(r.tag, r.result.text) for r in published] == [("f1", "ABCA"), ("f4", "A")]
        assert b.stats["rejected"] == 1 and b.stats["below_confidence"] == 1


def test_ros2_example_without_ros():
    spec = importlib.util.spec_from_file_location("ros2_lpr_node", REPO / "examples" / "ros2_lpr_node.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # importable without rclpy
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0] = 255
    padded = np.zeros((2, 12), np.uint8)
    padded[:, :9] = rgb.reshape(2, 9)
    bgr = mod.image_msg_to_bgr(2, 3, "rgb8", 12, padded.tobytes())
    assert bgr.shape == (2, 3, 3) and (bgr[..., 2] == 255).all() and (bgr[..., 0] == 0).all()
    assert mod.image_msg_to_bgr(2, 3, "mono8", 3, bytes(6)).shape == (2, 3)
    with pytest.raises(InputError, match="encoding"):
        mod.image_msg_to_bgr(2, 3, "yuv422", 6, bytes(12))
    with pytest.raises(InputError, match="does not match"):
        mod.image_msg_to_bgr(2, 3, "bgr8", 9, bytes(5))
    if importlib.util.find_spec("rclpy") is None:
        assert mod.main([]) == 2


def test_info_doctor_reports_tensorrt_details(monkeypatch, capsys):
    import json

    from . import fakes

    fakes.install(monkeypatch, "8.5.2", integrated=True, dla_cores=2)
    assert cli(["info", "--json"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["tensorrt"] == "8.5.2" and env["dla_cores"] == 2
    assert env["tensorrt_int8"] == "calibration cache (implicit)"
    assert env["cuda_device"]["integrated"] is True and env["cuda_device"]["compute_capability"] == "8.7"
    assert any("INT8 is fast" in tip for tip in env["advice"])


def test_import_and_cli_need_no_torch_tensorrt_or_pycuda():
    code = ("import sys\n"
            "for m in ('torch', 'tensorrt', 'pycuda', 'pycuda.driver'): sys.modules[m] = None\n"
            "import lpr_edge\n"
            "from lpr_edge.cli import main\n"
            "assert main(['info', '--json']) == 0\n"
            "assert main(['train', '--steps', '1']) == 2\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "needs PyTorch" in proc.stderr and "Traceback" not in proc.stderr
