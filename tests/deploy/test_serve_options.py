"""``lpr-edge serve``: refusals and the pieces of its start-up that need no running server."""
from __future__ import annotations

import socket
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from lpr_edge.cli import main
from lpr_edge.deploy.pytriton_patch import HANDSHAKE_WAIT_S, is_tested, patient_instances
from lpr_edge.deploy.triton_server import load_failure_cause, python_library_env

from .conftest import free_ports


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


def test_model_instances_wait_for_the_first_ones_handshake(tmp_path):
    """The proxy sent to Triton lets instances 2..K wait for the first one's handshake server, as it
    comes up on a loaded machine: the socket file first (bound, not listening), the server late.
    PyTriton's own gives up at once there (CI lost that race); the patched one gets the config."""
    pytest.importorskip("pytriton", reason="needs the serve extra: pip install 'lpr-edge[serve]'")
    from pytriton.models.model import Model
    from pytriton.proxy import communication

    model = SimpleNamespace(model_version=1, SCRIPT_FILES_TO_COPY=Model.SCRIPT_FILES_TO_COPY)
    original = Model.get_proxy_model_files(model)["file:1/communication.py"]
    with patient_instances():
        patched = Model.get_proxy_model_files(model)
    assert Model.get_proxy_model_files(model)["file:1/communication.py"] == original  # restored after the load
    source = patched["file:1/communication.py"]
    assert source.startswith(original) and len(source) > len(original)  # fails if a PyTriton release moves it
    proxy = dict(vars(communication))  # the shipped module with the appended part run on top, as the stub has it
    exec(compile(source[len(original):], "communication.py", "exec"), proxy)

    path, servers = tmp_path / "plates-config.sock", []

    def first_instance_under_load():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as half_up:
            half_up.bind(str(path))
            time.sleep(1.5)
        path.unlink()
        time.sleep(0.5)
        servers.append(communication.HandshakeServer(path, {"authkey": "k"}))
        servers[0].start()

    first = threading.Thread(target=first_instance_under_load)
    first.start()
    while not path.exists():
        time.sleep(0.005)
    try:
        with pytest.raises(ConnectionRefusedError):
            communication.get_config_from_handshake_server(path)  # PyTriton's own
        assert proxy["get_config_from_handshake_server"](path, timeout_s=20) == {"authkey": "k"}
        assert proxy["get_config_from_handshake_server"].__defaults__ == (HANDSHAKE_WAIT_S,)
    finally:
        first.join()
        for server in servers:
            server.close()


def test_the_patch_applies_only_to_the_pytriton_releases_it_was_tested_with(monkeypatch, capsys):
    from lpr_edge.deploy import pytriton_patch

    assert is_tested((0, 7, 0)) and not is_tested((0, 6, 0)) and not is_tested((0, 8, 1))
    monkeypatch.setattr(pytriton_patch, "pytriton_version", lambda: (0, 9, 0))
    with patient_instances():
        pass
    assert "PyTriton 0.9.0 is outside the tested range" in capsys.readouterr().err


def test_a_failed_model_load_names_the_stubs_root_cause():
    message = ("[400] load failed for model 'plates': version 1 is at UNAVAILABLE state: Internal: "
               "TritonModelException: Model initialize error: Traceback (most recent call last):\n"
               '  File "/tmp/f/1/communication.py", line 546, in get_config_from_handshake_server\n'
               "TimeoutError: Timeout occurred while waiting for config file /w/plates-config.sock\n\n"
               "The above exception was the direct cause of the following exception:\n")
    cause = "TimeoutError: Timeout occurred while waiting for config file /w/plates-config.sock"
    assert load_failure_cause(message) == cause
    assert load_failure_cause(message.replace("\n", "\\n")) == cause  # as Triton's log escapes it
    assert load_failure_cause("no traceback here") == "no traceback here"


def test_a_busy_port_or_foreign_address_is_refused_at_once(capsys):
    pytest.importorskip("pytriton", reason="needs the serve extra: pip install 'lpr-edge[serve]'")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        http, metrics = free_ports(2)
        assert main(["serve", "--address", "127.0.0.1", "--grpc-port", str(port), "--http-port", str(http),
                     "--metrics-port", str(metrics)]) == 1
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "--grpc-port" in err
    assert main(["serve", "--address", "no-such-host.invalid"]) == 1
    assert "not an address of this machine" in capsys.readouterr().err
