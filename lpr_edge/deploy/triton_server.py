"""``lpr-edge serve``: a model behind a real Triton Inference Server (PyTriton ships the binary).

Triton owns the network side (HTTP/gRPC, dynamic batching, request validation, Prometheus
metrics); each model instance here is one backend (ONNX Runtime on the CPU, TensorRT on a GPU)
that runs the merged batch. Wire form: :mod:`lpr_edge.formats.triton_wire`.
"""
from __future__ import annotations

import errno
import logging
import os
import re
import signal
import socket
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import BackendUnavailable, InputError, ServerError
from ..formats.triton_wire import MODEL_KEY, PIXELS_INPUT, model_info
from ..runtime.backends import open_backend
from ..runtime.preprocess import normalize
from .process_tree import nothing_left_behind
from .pytriton_patch import patient_instances

WIRES = ("uint8", "float32")


@dataclass
class ServeOptions:
    """What ``lpr-edge serve`` serves and where."""

    model: str | None = None
    name: str = "lpr"
    backend: str = "auto"
    address: str = "127.0.0.1"  # this machine only; 0.0.0.0 exposes the server (no authentication)
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    max_batch: int = 64  # a client's 32 crops and their padded views in one request
    max_queue_delay_us: int = 100
    instances: int = 1
    threads: int = 0
    wire: str = "uint8"
    log_file: str | None = None

    def check(self) -> None:
        for port in ("http_port", "grpc_port", "metrics_port"):
            if not 1 <= getattr(self, port) <= 65535:
                raise InputError(f"--{port.replace('_', '-')} must be a port number 1..65535")
        if len({self.http_port, self.grpc_port, self.metrics_port}) < 3:
            raise InputError("--http-port, --grpc-port and --metrics-port must differ")
        for field, low in (("max_batch", 1), ("instances", 1), ("max_queue_delay_us", 0), ("threads", 0)):
            if getattr(self, field) < low:
                raise InputError(f"--{field.replace('_', '-')} must be at least {low}")
        if self.wire not in WIRES:
            raise InputError(f"--wire must be one of {', '.join(WIRES)}")


class ModelInstance:
    """One Triton model instance: a backend, and the function Triton calls with merged requests."""

    def __init__(self, opts: ServeOptions, threads: int):
        from ..bundled import resolve_model

        self._backend = open_backend(resolve_model(opts.model), opts.backend, max_batch=opts.max_batch,
                                     threads=threads)
        self.spec = self._backend.spec
        self.wire = opts.wire
        probabilities = getattr(self._backend, "probabilities", None)
        info = model_info(self.spec, self._backend.precision, self._backend.name, probabilities)
        self.info = np.array([info.encode()],
                             dtype=object)
        self.outputs = self._warm_up()

    @property
    def backend_name(self) -> str:
        return self._backend.name

    @property
    def precision(self) -> str:
        return self._backend.precision

    @property
    def max_batch(self) -> int:
        """Rows one call can take: ``--max-batch``, or less where an engine's profile ends sooner."""
        return self._backend.max_batch

    def input_shape(self) -> tuple[int, ...]:
        return self.spec.input_shape if self.wire == "float32" else (self.spec.height, self.spec.width, 3)

    def _warm_up(self) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
        """Run one batch to learn each output's dtype and row shape (engines may differ from ONNX)."""
        outputs = self._run(np.zeros((1, *self.input_shape()), np.uint8 if self.wire == "uint8" else np.float32))
        return {name: (value.dtype, value.shape[1:]) for name, value in outputs.items()}

    def _run(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        batch = normalize(rows, self.spec, out=self._backend.input) if self.wire == "uint8" else rows
        return self._backend.infer(batch).outputs

    def __call__(self, requests: list) -> list[dict[str, np.ndarray]]:
        """Triton's dynamic batcher hands over several requests (at most max_batch rows in all)."""
        rows = [request[PIXELS_INPUT] for request in requests]
        outputs = self._run(rows[0] if len(rows) == 1 else np.concatenate(rows))
        responses, start = [], 0
        for request, part in zip(requests, rows):
            stop = start + len(part)
            response = {name: value[start:stop] for name, value in outputs.items()}
            if MODEL_KEY in (request.requested_output_names or ()):
                response[MODEL_KEY] = np.repeat(self.info, len(part)).reshape(-1, 1)
            responses.append(response)
            start = stop
        return responses

    def close(self) -> None:
        self._backend.close()


def python_library_env() -> dict[str, str]:
    """Environment for Triton's Python-backend stub: this interpreter's libpython first.

    The stub loads ``libpython3.X.so.1.0`` by soname; with a non-system interpreter (pyenv, conda)
    it would otherwise get the system's libpython with this interpreter's standard library, and
    the model fails to load (``'_thread.RLock' object has no attribute '_recursion_count'``).
    """
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    current = os.environ.get("LD_LIBRARY_PATH", "")
    if not libdir or not list(Path(libdir).glob("libpython3*.so*")):
        return {"LD_LIBRARY_PATH": current}
    return {"LD_LIBRARY_PATH": os.pathsep.join([libdir] + [p for p in current.split(os.pathsep) if p and p != libdir])}


def _pytriton():
    try:
        from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
        from pytriton.triton import Triton, TritonConfig
    except ImportError as exc:
        raise BackendUnavailable(f"lpr-edge serve needs PyTriton ({exc}); pip install 'lpr-edge[serve]'") from None
    return DynamicBatcher, ModelConfig, Tensor, Triton, TritonConfig


def serve(opts: ServeOptions, on_ready: Callable[[dict], None] | None = None,
          stop: threading.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set); ``on_ready`` gets the endpoints once Triton is ready."""
    opts.check()
    DynamicBatcher, ModelConfig, Tensor, Triton, TritonConfig = _pytriton()
    check_ports_free(opts)
    cores = os.cpu_count() or 1
    threads = opts.threads or max(1, cores // opts.instances)
    instances = [ModelInstance(opts, threads) for _ in range(opts.instances)]
    first = instances[0]
    inputs = [Tensor(name=PIXELS_INPUT, dtype=np.uint8 if opts.wire == "uint8" else np.float32,
                     shape=first.input_shape())]
    outputs = [Tensor(name=name, dtype=dtype, shape=shape) for name, (dtype, shape) in first.outputs.items()]
    outputs.append(Tensor(name=MODEL_KEY, dtype=np.bytes_, shape=(1,)))
    os.environ.update(python_library_env())
    config = TritonConfig(http_address=opts.address, http_port=opts.http_port, grpc_address=opts.address,
                          grpc_port=opts.grpc_port, metrics_address=opts.address, metrics_port=opts.metrics_port,
                          log_verbose=0, log_file=opts.log_file,
                          # GPU metrics need NVML, which prints an error on machines without a GPU.
                          allow_gpu_metrics=first.backend_name == "tensorrt")
    model_config = ModelConfig(max_batch_size=first.max_batch,  # Triton must not merge more than the backend takes
                               batcher=DynamicBatcher(max_queue_delay_microseconds=opts.max_queue_delay_us))
    stop = stop or threading.Event()
    handlers = _stop_on_signals(stop)
    logging.getLogger("pytriton").setLevel(logging.WARNING)
    try:
        with nothing_left_behind():
            triton = _started(Triton(config=config), opts)
            try:
                _load(triton, opts, instances, inputs, outputs, model_config)
                if on_ready:
                    on_ready(_endpoints(opts, first))
                _wait(triton, stop, opts)
            finally:
                triton.stop()
    finally:
        _restore(handlers)
        for instance in instances:
            instance.close()


def check_ports_free(opts: ServeOptions) -> None:
    """Refuse ports something already listens on, before Triton starts.

    Triton exits on a busy port, but PyTriton's client may have connected to whatever holds it and
    waits a minute for an answer that never comes.
    """
    for flag, port in (("--http-port", opts.http_port), ("--grpc-port", opts.grpc_port),
                       ("--metrics-port", opts.metrics_port)):
        try:
            family = socket.AF_INET6 if ":" in opts.address else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                # As Triton binds: a port left in TIME_WAIT by a stopped server is free.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((opts.address, port))
        except OSError as exc:
            what = (f"--address {opts.address} is not an address of this machine (0.0.0.0 listens on all)"
                    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL
                    else f"choose another {flag} or stop what uses it")
            raise ServerError(f"cannot listen on {opts.address}:{port} ({exc.strerror or exc}); {what}") from None


def _started(triton, opts: ServeOptions):
    """Launch Triton's server process (no models yet)."""
    try:
        triton.run()
    except Exception as exc:
        triton.stop()
        raise ServerError(f"Triton did not start: {str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}"
                          f"; are ports {opts.http_port}/{opts.grpc_port}/{opts.metrics_port} free? "
                          "(--http-port/--grpc-port/--metrics-port)") from None
    return triton


def _load(triton, opts: ServeOptions, instances: list[ModelInstance], inputs, outputs, model_config) -> None:
    """Bind the instances as model ``opts.name``; Triton loads it at once (the server is running)."""
    try:
        with patient_instances():
            triton.bind(model_name=opts.name, infer_func=instances, inputs=inputs, outputs=outputs,
                        config=model_config)
    except Exception as exc:
        raise ServerError(f"Triton could not load model {opts.name!r}: {load_failure_cause(str(exc))}; "
                          f"its log: {opts.log_file or 'stdout'}") from None


def load_failure_cause(message: str) -> str:
    """The root cause of a load failure: the first ``XxxError: ...`` line of the stub's traceback Triton relays."""
    causes = [line.strip() for line in message.replace("\\n", "\n").splitlines()
              if re.match(r"\s*[A-Za-z_.]*(Error|Exception): ", line)]
    return causes[0][:300] if causes else (message.splitlines()[0][:300] if message else "no message")


def _wait(triton, stop: threading.Event, opts: ServeOptions) -> None:
    while not stop.wait(0.5):
        if not triton.is_alive():
            raise ServerError("the Triton server process exited; see its log "
                              f"({opts.log_file or 'stdout'})")


def _endpoints(opts: ServeOptions, instance: ModelInstance) -> dict:
    host = "localhost" if opts.address in ("0.0.0.0", "::") else opts.address
    return {"name": opts.name, "model": str(opts.model or "us"), "backend": instance.backend_name,
            "precision": instance.precision, "instances": opts.instances, "max_batch": instance.max_batch,
            "wire": opts.wire, "grpc": f"grpc://{host}:{opts.grpc_port}/{opts.name}",
            "http": f"http://{host}:{opts.http_port}/{opts.name}",
            # Triton answers /v2/health/ready before PyTriton has loaded the model: probe the model.
            "ready": f"http://{host}:{opts.http_port}/v2/models/{opts.name}/ready",
            "metrics": f"http://{host}:{opts.metrics_port}/metrics"}


def _stop_on_signals(stop: threading.Event) -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous


def _restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
