"""A real ``lpr-edge serve`` on loopback and free ports, started and stopped by the tests."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Server:
    """``lpr-edge serve`` in a child process; ``start``/``stop`` may be called again (restarts)."""

    def __init__(self, tmp: Path, *extra: str, name: str = "lpr"):
        self.http, self.grpc, self.metrics = free_ports(3)
        self.name, self.extra, self.tmp = name, extra, tmp
        self.proc: subprocess.Popen | None = None
        self.log = tmp / "serve.log"

    @property
    def grpc_url(self) -> str:
        return f"grpc://127.0.0.1:{self.grpc}/{self.name}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http}/{self.name}"

    def start(self, timeout: float = 120) -> "Server":
        cmd = [sys.executable, "-m", "lpr_edge", "serve", "--address", "127.0.0.1", "--name", self.name,
               "--http-port", str(self.http), "--grpc-port", str(self.grpc), "--metrics-port", str(self.metrics),
               "--threads", "1", "--log-file", str(self.tmp / "triton.log"), *self.extra]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lpr-edge serve exited {self.proc.returncode}: {self.logs()}")
            if self.ready():
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"lpr-edge serve not ready in {timeout} s: {self.logs()}")

    def logs(self) -> str:
        """The end of serve's output and Triton's error lines (a failed load's traceback is there)."""
        triton = self.tmp / "triton.log"
        errors = [line for line in triton.read_text(errors="replace").splitlines()
                  if line.startswith("E")] if triton.exists() else []
        return self.log.read_text()[-2000:] + "\ntriton.log errors:\n" + "\n".join(errors[-5:])[-3000:]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/v2/models/{self.name}/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("serve")).start()
    yield srv
    assert srv.stop() == 0, srv.log.read_text()[-2000:]


@pytest.fixture
def fresh_server(tmp_path):
    srv = Server(tmp_path, "--wire", "float32", "--instances", "2", name="plates")
    yield srv
    srv.stop()

