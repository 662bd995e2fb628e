"""``lpr-edge serve`` refusals that need no server."""
from __future__ import annotations

import sys

import pytest

from lpr_edge.cli import main
from lpr_edge.deploy.triton_server import python_library_env


@pytest.mark.parametrize("args, problem", [
    (["--http-port", "0"], "--http-port must be a port"),
    (["--grpc-port", "8000"], "must differ"),
    (["--instances", "0"], "--instances must be at least 1"),
    (["--max-batch", "0"], "--max-batch must be at least 1"),
])
def test_bad_options_are_refused_before_anything_starts(capsys, args, problem):
    assert main(["serve", *args]) == 2
    assert problem in capsys.readouterr().err


def test_without_pytriton_serve_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pytriton", None)
    monkeypatch.setitem(sys.modules, "pytriton.triton", None)
    monkeypatch.setitem(sys.modules, "pytriton.model_config", None)
    assert main(["serve"]) == 2
    assert "pip install 'lpr-edge[serve]'" in capsys.readouterr().err


def test_without_tritonclient_a_server_url_names_the_extra(monkeypatch, capsys, tmp_path):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "x.png"), np.zeros((20, 40, 3), np.uint8))
    monkeypatch.setitem(sys.modules, "tritonclient.grpc", None)
    assert main(["recognize", "--model", "grpc://localhost:8001/lpr", str(tmp_path / "x.png")]) == 2
    assert "pip install 'lpr-edge[client]'" in capsys.readouterr().err


def test_the_triton_stub_gets_this_interpreters_libpython(monkeypatch, tmp_path):
    import sysconfig

    (tmp_path / "libpython3.99.so.1.0").write_bytes(b"")
    monkeypatch.setattr(sysconfig, "get_config_var", lambda name: str(tmp_path) if name == "LIBDIR" else None)
    monkeypatch.setenv("LD_LIBRARY_PATH", f"/opt/x:{tmp_path}")
    assert python_library_env()["LD_LIBRARY_PATH"] == f"{tmp_path}:/opt/x"
