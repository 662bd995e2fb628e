"""A real Triton server (``lpr-edge serve``) and the Triton client Recognizer, on loopback."""
from __future__ import annotations

import threading
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("pytriton", reason="needs the serve extra: pip install 'lpr-edge[serve]'")
pytest.importorskip("tritonclient.grpc", reason="needs tritonclient: pip install 'lpr-edge[client]'")

from lpr_edge import Recognizer  # noqa: E402
from lpr_edge.datasets import load_dataset, load_images  # noqa: E402
from lpr_edge.errors import CropError, ServerError  # noqa: E402
from tests.conftest import US_DATA, need, run_threads  # noqa: E402

from .conftest import Server, free_ports  # noqa: E402


@pytest.fixture(scope="module")
def crops():
    images, _, _ = load_images(load_dataset(need(US_DATA)).samples[:96])
    return images


@pytest.fixture(scope="module")
def local_readings(crops):
    with Recognizer() as rec:
        return rec.recognize_batch(crops)


@pytest.mark.parametrize("scheme", ["grpc", "http"])
def test_readings_identical_to_a_local_recognizer(server, crops, local_readings, scheme):
    with Recognizer(server.grpc_url if scheme == "grpc" else server.http_url) as rec:
        assert rec.backend_name == "triton" and rec.precision == "fp32" and rec.spec.name == "lprnet_us"
        assert rec._backend.input.dtype == np.uint8  # resized pixels on the wire
        assert rec.reframe  # the served spec carries the framing: loose crops are read again, as locally
        assert rec.probabilities == "/Softmax_output_0" and not rec.cross_check  # served: the posterior's input
        remote = rec.recognize_batch(crops)  # 96 crops: three requests of 32
    assert remote == local_readings  # text, confidence and every character confidence


def test_eight_concurrent_clients_get_their_own_answers(server, crops, local_readings):
    """8 threads x 25 requests of different sizes and offsets: nothing lost, nothing mixed up."""
    failures, shared = [], Recognizer(server.grpc_url)

    def worker(k: int) -> None:
        own = Recognizer(server.grpc_url if k % 2 else server.http_url)
        rng = np.random.default_rng(k)
        for i in range(25):
            start, size = int(rng.integers(0, len(crops))), int(rng.integers(1, 12))
            idx = [(start + j) % len(crops) for j in range(size)]
            rec = shared if i % 3 == 0 else own  # a Recognizer shared by threads, and one per thread
            got = rec.recognize_batch([crops[j] for j in idx])
            if got != [local_readings[j] for j in idx]:
                failures.append((k, i, idx))
        own.close()

    assert run_threads(worker, count=8, timeout=180) == []
    shared.close()
    assert failures == []


def test_bad_payloads_get_an_error_and_the_server_keeps_serving(server, crops, local_readings):
    import tritonclient.grpc as api
    from tritonclient.utils import InferenceServerException

    client = api.InferenceServerClient(f"127.0.0.1:{server.grpc}")
    payloads = {
        "not an image": np.array([[b"GIF89a this is not pixels"]], dtype=object),
        "wrong dtype": np.zeros((1, 48, 96, 3), np.float32),
        "wrong shape": np.zeros((1, 10, 20, 3), np.uint8),
        "empty": np.zeros((0, 48, 96, 3), np.uint8),
        "batch over max": np.zeros((65, 48, 96, 3), np.uint8),  # lpr-edge serve: --max-batch 64
    }
    for what, data in payloads.items():
        tensor = api.InferInput("crops", list(data.shape), api.np_to_triton_dtype(data.dtype))
        tensor.set_data_from_numpy(data)
        with pytest.raises(InferenceServerException):
            client.infer("lpr", [tensor], client_timeout=30)
    with Recognizer(server.grpc_url) as rec:
        assert rec.recognize_batch(crops[:5]) == local_readings[:5]
        with pytest.raises(CropError, match="crop 1"):  # checked on the client, nothing sent
            rec.recognize_batch([crops[0], None])


def test_metrics_count_the_requests(server, crops):
    with Recognizer(server.grpc_url) as rec:
        rec.recognize_batch(crops[:4])
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics}/metrics", timeout=10) as r:
        text = r.read().decode()
    lines = [line for line in text.splitlines() if line.startswith("nv_inference_request_success{")
             and 'model="lpr"' in line]
    assert lines and float(lines[0].rsplit(" ", 1)[1]) >= 1


def test_server_stopped_mid_run_then_restarted(fresh_server, crops, local_readings):
    """Clear ServerError while the server is down (no hang), the same Recognizer works after a restart.

    Also the float32 wire form (the model's own input, as a repository from export triton takes) and
    two model instances."""
    fresh_server.start()
    rec = Recognizer(fresh_server.grpc_url, timeout=10)
    assert rec._backend.input.dtype == np.float32
    assert rec.recognize_batch(crops[:8]) == local_readings[:8]
    assert fresh_server.stop() == 0
    t0 = time.monotonic()
    with pytest.raises(ServerError, match="running"):
        rec.recognize_batch(crops[:8])
    assert time.monotonic() - t0 < 15
    fresh_server.start()
    assert rec.recognize_batch(crops[:8]) == local_readings[:8]
    rec.close()


def test_no_server_is_a_clear_error_for_both_protocols():
    port = free_ports(1)[0]
    for url in (f"grpc://127.0.0.1:{port}/lpr", f"http://127.0.0.1:{port}/lpr"):
        with pytest.raises(ServerError, match=f"127.0.0.1:{port}"):
            Recognizer(url, timeout=5)


def test_unknown_model_name_is_named(server):
    with pytest.raises(ServerError, match="no ready model 'cars'.*--name"):
        Recognizer(f"grpc://127.0.0.1:{server.grpc}/cars")


def test_a_server_that_never_answers_times_out():
    """A socket that listens but never speaks gRPC: the timeout fires instead of a hang."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    port = sock.getsockname()[1]
    t0 = time.monotonic()
    try:
        with pytest.raises(ServerError):
            Recognizer(f"grpc://127.0.0.1:{port}/lpr", timeout=2)
    finally:
        sock.close()
    assert time.monotonic() - t0 < 20


def test_sigint_stops_the_server_cleanly(tmp_path):
    import signal

    srv = Server(tmp_path).start()
    assert srv.stop(signal.SIGINT) == 0
    assert "stopped" in srv.log.read_text()
    assert not srv.ready()


def test_threads_of_one_recognizer_share_it_safely(server, crops, local_readings):
    rec, errors = Recognizer(server.http_url), []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(10):
            idx = [(k * 7 + i + j) % len(crops) for j in range(3)]
            if rec.recognize_batch([crops[j] for j in idx]) != [local_readings[j] for j in idx]:
                with lock:
                    errors.append((k, i))

    assert run_threads(worker, count=4, timeout=120) == []
    rec.close()
    assert errors == []


def test_verbs_take_a_server_url(server, tmp_path, capsys):
    import json

    from lpr_edge.cli import main

    capsys.readouterr()
    assert main(["eval", "--model", server.grpc_url, "--data", str(need(US_DATA)), "--split", "val", "--json"]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert main(["eval", "--data", str(US_DATA), "--split", "val", "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert remote["backend"] == "triton" and remote["model"] == server.grpc_url
    assert remote["perfect_match"] == local["perfect_match"] and remote["plates"] == local["plates"] == 150
    assert main(["bench", server.grpc_url, "--batch", "1,8", "--clients", "1,4", "--iters", "3",
                 "--json", str(tmp_path / "bench.json")]) == 0
    rows = json.loads((tmp_path / "bench.json").read_text())["results"][0]["latency"]
    assert [(r["clients"], r["batch"]) for r in rows] == [(1, 1), (1, 8), (4, 1), (4, 8)]
    assert rows[3]["end_to_end_ms"]["n"] == 12 and all(r["throughput_plates_s"] > 0 for r in rows)
    capsys.readouterr()
    assert main(["bench", "http://127.0.0.1:1/lpr", "--iters", "1", "--timeout", "5"]) == 1
    assert "ServerError" not in capsys.readouterr().err


def test_a_killed_triton_server_leaves_no_process_and_no_shared_memory_behind(tmp_path, crops):
    """SIGKILL of tritonserver while clients are reading: its backend stubs and their Python children used
    to be re-parented to init, ignore SIGTERM and stay, with a /dev/shm segment."""
    import os
    import signal
    from pathlib import Path

    from lpr_edge.deploy.process_tree import children

    def tree(pid: int) -> set[int]:
        below = children(pid)
        return below.union(*(tree(child) for child in below)) if below else set()

    def command(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return ""

    srv = Server(tmp_path).start()
    stop = threading.Event()

    def reading():
        rec = Recognizer(srv.grpc_url, timeout=5)
        while not stop.is_set():
            try:
                rec.recognize_batch(crops[:16])
            except ServerError:
                time.sleep(0.05)

    clients = [threading.Thread(target=reading, daemon=True) for _ in range(4)]
    for client in clients:
        client.start()
    time.sleep(2)
    serving = tree(srv.proc.pid)
    (triton,) = [pid for pid in serving if "bin/tritonserver" in command(pid)]
    assert any("triton_python_backend_stub" in command(pid) for pid in serving)
    os.kill(triton, signal.SIGKILL)
    assert srv.proc.wait(60) == 1  # "the Triton server process exited", one line
    pid, srv.proc = srv.proc.pid, None
    stop.set()
    left = [p for p in serving if Path(f"/proc/{p}").exists() and "Z" not in Path(f"/proc/{p}/stat").read_text()]
    assert left == [], [command(p) for p in left]
    assert not list(Path("/dev/shm").glob(f"pytrtion{pid}-*"))
