"""Outputs are written atomically: a killed writer leaves the old file, an unwritable path is one clear error."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from .conftest import REPO

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



def test_a_full_disk_is_one_line_naming_the_path(tmp_path, monkeypatch, capsys):
    import errno
    import os

    from lpr_edge import atomic
    from lpr_edge.cli import main

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    out = tmp_path / "out"
    assert main(["calibrate", "--from-cache", str(REPO / "calibration" / "lprnet_us.cache"),
                 "--qdq", str(out / "q.onnx"), "--cpu-qdq", str(out / "c.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err and str(out) in err
    assert not [p for p in out.iterdir()]  # neither model, no temporaries


def _shipped_set(folder):
    """A copy of the bundled US model's calibration set (the cache and both Q/DQ models)."""
    import shutil

    folder.mkdir()
    for name in ("lprnet_us.cache", "lprnet_us.qdq.onnx", "lprnet_us.cpu.qdq.onnx"):
        shutil.copy(REPO / "calibration" / name, folder / name)
    return [folder / n for n in ("lprnet_us.cache", "lprnet_us.qdq.onnx", "lprnet_us.cpu.qdq.onnx")]


def test_calibrate_replaces_existing_files_only_with_force_and_only_as_a_whole_set(tmp_path, monkeypatch, capsys):
    """A bare `lpr-edge calibrate` used to overwrite calibration/ (the shipped files), and a failure or
    Ctrl-C after the cache was written left the new cache beside the old Q/DQ models."""
    from lpr_edge.cli import main
    from lpr_edge.toolchain import qdq

    files = _shipped_set(tmp_path / "calibration")
    before = [p.read_bytes() for p in files]
    monkeypatch.chdir(tmp_path)  # `calibration/` of the working directory, as in a clone
    argv = ["calibrate", "--data", "synthetic", "--samples", "8"]
    assert main(argv) == 2
    assert "calibration/lprnet_us.cache exists" in capsys.readouterr().err
    assert [p.read_bytes() for p in files] == before

    made = []

    def second_fails(onnx_path, cache, out_path, spec=None, target="tensorrt"):
        if made:
            raise KeyboardInterrupt  # Ctrl-C while the second model is written
        made.append(out_path)
        return real(onnx_path, cache, out_path, spec, target)

    real = qdq.make_qdq_model
    monkeypatch.setattr(qdq, "make_qdq_model", second_fails)
    assert main([*argv, "--force"]) == 130  # "lpr-edge: interrupted"
    assert [p.read_bytes() for p in files] == before  # the old set, whole
    assert sorted(p.name for p in (tmp_path / "calibration").iterdir()) == sorted(p.name for p in files)
    monkeypatch.setattr(qdq, "make_qdq_model", real)
    assert main([*argv, "--force"]) == 0
    assert all(a != p.read_bytes() for a, p in zip(before, files))  # the new set, whole


def test_calibration_leaves_nothing_beside_its_input_model(tmp_path, monkeypatch):
    """ONNX Runtime's tools write `<model>-inferred.onnx` beside the model they read: beside a model on a
    read-only mount that failed, and Ctrl-C could leave it in lpr_edge/models/."""
    import onnx.shape_inference

    from lpr_edge.cli import main

    written = []
    real = onnx.shape_inference.infer_shapes_path

    def record(model_path, output_path="", *args, **kwargs):
        written.append(output_path or model_path)
        return real(model_path, output_path, *args, **kwargs)

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes_path", record)
    out = tmp_path / "out"
    assert main(["calibrate", "--data", "synthetic", "--samples", "8", "--cache", str(out / "a.cache")]) == 0
    models = REPO / "lpr_edge" / "models"
    assert written and not any(str(path).startswith(str(models)) for path in written)


@pytest.mark.parametrize("verb", ["bench", "eval"])
def test_a_set_of_records_is_written_whole_or_not_at_all(tmp_path, monkeypatch, capsys, verb):
    """A full disk used to leave b.json and b.md without b.png (bench), errors.csv without its PNG (eval)."""
    import errno
    import os

    from lpr_edge import atomic
    from lpr_edge.cli import main

    from .conftest import toy_model_and_crops

    model, _, crops = toy_model_and_crops(tmp_path, n=4)
    out = tmp_path / "out"
    out.mkdir()
    if verb == "bench":
        argv = ["bench", str(model), "--batch", "1", "--iters", "1", "--warmup", "0", "--json", str(out / "b.json"),
                "--markdown", str(out / "b.md"), "--plot", str(out / "b.png")]
    else:
        import cv2

        data = tmp_path / "crops"
        data.mkdir()
        for i, crop in enumerate(crops):
            cv2.imwrite(str(data / f"{i}.png"), crop)
        (data / "labels.csv").write_text("file,text\n" + "".join(f"{i}.png,ZZZZ\n" for i in range(4)))
        argv = ["eval", "--model", str(model), "--data", str(data), "--errors", str(out / "errors.csv"),
                "--errors-image", str(out / "errors.png")]
    real_fsync, calls = os.fsync, []

    def full_on_the_last(fd):
        calls.append(fd)
        if len(calls) == 3 - (verb == "eval"):  # the last file of the set
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", full_on_the_last)
    assert main(argv) == 2
    assert "No space left on device" in capsys.readouterr().err and list(out.iterdir()) == []
    monkeypatch.setattr(atomic.os, "fsync", real_fsync)
    assert main(argv) == 0
    assert len(list(out.iterdir())) == 3 - (verb == "eval")
