"""The command line: bad arguments, the info doctor, and imports that need no GPU stack."""
from __future__ import annotations

import subprocess
import sys

import pytest

from lpr_edge.cli import main as cli

from ..conftest import REPO


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


def test_info_doctor_reports_tensorrt_details(monkeypatch, capsys):
    import json

    from .. import doubles

    doubles.install(monkeypatch, "8.5.2", integrated=True, dla_cores=2)
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

