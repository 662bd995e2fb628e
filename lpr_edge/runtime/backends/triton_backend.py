"""A model served by Triton Inference Server, as a backend: ``Recognizer("grpc://host:8001/lpr")``.

The Recognizer preprocesses into :attr:`TritonBackend.input` as for a local model, this backend
sends those rows to the server and returns the raw outputs, and the Recognizer decodes them, so
readings match a local Recognizer's. The wire form and how the spec is learnt:
:mod:`lpr_edge.formats.triton_wire`. Every server or network failure is a
:class:`~lpr_edge.errors.ServerError`; a request never waits longer than ``timeout`` seconds.
"""
from __future__ import annotations

import json
import threading
import time

import numpy as np

from ...errors import BackendUnavailable, ClosedError, InputError, ServerError
from ...formats.triton_wire import MODEL_KEY, ServerAddress, parse_address
from ...spec import ModelSpec
from .base import Inference, load_rows

DTYPES = {"UINT8": np.uint8, "FP32": np.float32}


class TritonBackend:
    """A client of one model on one Triton server; one connection per calling thread."""

    name = "triton"

    def __init__(self, url: str, max_batch: int = 32, timeout: float = 30.0):
        if not timeout or timeout <= 0:
            raise InputError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.address: ServerAddress = parse_address(url)
        self._api = _client_module(self.address.scheme)
        self._timeout = float(timeout)
        self._local = threading.local()
        self._clients: list = []  # every thread's connection, closed together
        self._clients_lock = threading.Lock()
        self._closed = False
        metadata, config = self._describe()
        served = self._served_model(metadata, config)
        self.spec: ModelSpec = ModelSpec.from_dict(served["spec"])
        self.precision: str = served.get("precision", "unknown")
        self.served_backend: str = served.get("backend", config.get("backend") or config.get("platform", ""))
        sent = {o["name"] for o in metadata.get("outputs", [])}
        self.probabilities: str | None = served.get("probabilities") if served.get("probabilities") in sent else None
        self._wanted = (*self.spec.outputs, *([self.probabilities] if self.probabilities else []))
        server_batch = int(config.get("max_batch_size", 0))
        if server_batch < 1:
            raise ServerError(f"{self.address} has no batch dimension (max_batch_size 0); serve it with dynamic "
                              "batching (lpr-edge serve, or lpr-edge export triton)")
        self.max_batch = min(max_batch, server_batch)
        self._input_name, dtype = self._input_form(metadata)
        shape = self.spec.input_shape if dtype == np.float32 else (self.spec.height, self.spec.width, 3)
        self.input = np.zeros((self.max_batch, *shape), dtype)

    # ---- one request ------------------------------------------------------------------------

    def infer(self, batch: np.ndarray) -> Inference:
        """Send ``batch`` (rows of :attr:`input`, or copied there); the spec's outputs, a row per crop."""
        if self._closed:
            raise ClosedError("backend is closed; open a new Recognizer")
        n = load_rows(self.input, batch)
        t0 = time.perf_counter()
        result = self._infer(self.input[:n], self._wanted)
        outputs = {name: result.as_numpy(name) for name in self._wanted}
        timings = {"infer": (time.perf_counter() - t0) * 1e3}
        for name, value in outputs.items():
            if value is None or len(value) != n:
                raise ServerError(f"{self.address} returned {name} with "
                                  f"{'no' if value is None else len(value)} rows for {n} crops")
        return Inference(outputs, timings)

    def _infer(self, rows: np.ndarray, output_names):
        api = self._api
        tensor = api.InferInput(self._input_name, list(rows.shape), api.np_to_triton_dtype(rows.dtype))
        wanted = [api.InferRequestedOutput(name) for name in output_names]
        if self.address.scheme == "http":
            tensor.set_data_from_numpy(rows, binary_data=True)
        else:
            tensor.set_data_from_numpy(rows)
        return self._call("infer", self.address.model, [tensor], model_version=self.address.version, outputs=wanted)

    # ---- connection ---------------------------------------------------------------------------

    def _client(self):
        # tritonclient's clients are not thread-safe: one per thread (each Recognizer thread).
        client = getattr(self._local, "client", None)
        if client is None:
            if self.address.scheme == "http":
                client = self._api.InferenceServerClient(self.address.endpoint, connection_timeout=self._timeout,
                                                         network_timeout=self._timeout)
            else:
                client = self._api.InferenceServerClient(self.address.endpoint)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _call(self, method: str, *args, **kwargs):
        if self.address.scheme == "grpc":  # the http client has its timeouts from the constructor
            kwargs["client_timeout"] = self._timeout
        try:
            return getattr(self._client(), method)(*args, **kwargs)
        except Exception as exc:  # tritonclient, gRPC, gevent and socket errors alike
            raise ServerError(f"{self.address}: {_reason(exc)}; {_hint(exc)}") from None

    def _describe(self) -> tuple[dict, dict]:
        model, version = self.address.model, self.address.version
        if not self._call("is_server_live"):
            raise ServerError(f"the Triton server at {self.address.endpoint} is not live; retry when it is up")
        if not self._call("is_model_ready", model, version):
            names = self._model_names()  # PyTriton restricts this listing: then no names to offer
            offer = f"models it serves: {', '.join(names)}" if names else "check the name (lpr-edge serve --name)"
            raise ServerError(f"the server at {self.address.endpoint} has no ready model {model!r}"
                              f"{' version ' + version if version else ''}; {offer}")
        metadata = self._call("get_model_metadata", model, version, **self._as_dict)
        config = self._call("get_model_config", model, version, **self._as_dict)
        return metadata, config.get("config", config)

    @property
    def _as_dict(self) -> dict:
        """gRPC answers protobufs unless asked for JSON-like dicts; HTTP answers dicts already."""
        return {"as_json": True} if self.address.scheme == "grpc" else {}

    def _model_names(self) -> list[str]:
        try:
            index = self._call("get_model_repository_index", **self._as_dict)
        except ServerError:
            return []
        entries = index.get("models", []) if isinstance(index, dict) else index
        return [e["name"] for e in entries if e.get("state", "READY") == "READY"]

    def _served_model(self, metadata: dict, config: dict) -> dict:
        """What lpr-edge needs to know about the served model: from the config or the info output."""
        param = (config.get("parameters") or {}).get(MODEL_KEY, {}).get("string_value")
        if param:
            return self._parse_info(param)
        if not any(o["name"] == MODEL_KEY for o in metadata.get("outputs", [])):
            raise ServerError(f"{self.address} is not an lpr-edge model: its config has no {MODEL_KEY} parameter and "
                              f"it has no {MODEL_KEY} output; export it with lpr-edge export triton, or serve it "
                              "with lpr-edge serve")
        name, dtype, shape = self._input_form_raw(metadata)
        probe = np.zeros([1] + [int(d) for d in shape[1:]], DTYPES[dtype])
        self._input_name = name
        raw = self._infer(probe, [MODEL_KEY]).as_numpy(MODEL_KEY).reshape(-1)[0]
        return self._parse_info(raw.decode() if isinstance(raw, bytes) else str(raw))

    def _parse_info(self, text: str) -> dict:
        try:
            info = json.loads(text)
            ModelSpec.from_dict(info["spec"])
            return info
        except Exception as exc:
            raise ServerError(f"{self.address} sent an unreadable {MODEL_KEY} ({_reason(exc)}); serve the model "
                              "with the same lpr-edge version as the client") from None

    def _input_form_raw(self, metadata: dict) -> tuple[str, str, list]:
        inputs = metadata.get("inputs", [])
        if len(inputs) != 1 or inputs[0]["datatype"] not in DTYPES:
            raise ServerError(f"{self.address} takes {[(i['name'], i['datatype']) for i in inputs]}; lpr-edge "
                              "sends one UINT8 (resized pixels) or FP32 (model input) tensor")
        return inputs[0]["name"], inputs[0]["datatype"], inputs[0]["shape"]

    def _input_form(self, metadata: dict) -> tuple[str, type]:
        name, dtype, shape = self._input_form_raw(metadata)
        expected = list(self.spec.input_shape) if dtype == "FP32" else [self.spec.height, self.spec.width, 3]
        if [int(d) for d in shape[1:]] != expected:
            raise ServerError(f"{self.address} input {name} has shape {shape}, the spec implies [-1, "
                              f"{', '.join(map(str, expected))}]")
        return name, DTYPES[dtype]

    def close(self) -> None:
        self._closed = True
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            try:
                client.close()
            except Exception:  # a dead connection, or an http client made on another, finished thread
                # tritonclient's __del__ would try again from whatever thread collects it, and fail there
                # with an unraisable error: it is closed as far as this backend is concerned.
                if hasattr(client, "_closed"):
                    client._closed = True


def _client_module(scheme: str):
    try:
        if scheme == "http":
            import tritonclient.http as api
        else:
            import tritonclient.grpc as api
    except ImportError as exc:
        raise BackendUnavailable(f"talking to a Triton server needs tritonclient ({exc}); "
                                 "pip install 'lpr-edge[client]'") from None
    return api


def _reason(exc: BaseException) -> str:
    message = exc.message() if callable(getattr(exc, "message", None)) else str(exc)
    first = (message or type(exc).__name__).strip().splitlines()[0]
    return first[:300]


def _hint(exc: BaseException) -> str:
    text = _reason(exc).lower()
    if "unavailable" in text or "connect" in text or "refused" in text or isinstance(exc, OSError):
        return "is the server running (lpr-edge serve) and the address right?"
    if "deadline" in text or "timeout" in text or "timed out" in text:
        return "the server did not answer in time; raise the timeout or check its load"
    return "the server refused the request"
