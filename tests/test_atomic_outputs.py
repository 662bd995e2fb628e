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

