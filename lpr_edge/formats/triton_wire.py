"""The contract between lpr-edge's Triton client and the models it talks to.

Two wire forms, told apart by the served model's input datatype:

- ``UINT8`` (``lpr-edge serve``, the default): input ``crops`` [N, H, W, 3], crops already resized
  to the model's size, BGR, not normalised: 48x96x3 = 13,824 bytes a plate. The server normalises.
- ``FP32`` (the model's own input, e.g. a model repository from ``lpr-edge export triton`` served
  by NVIDIA's Triton container): the normalised tensor, 3x48x96x4 = 55,296 bytes a plate.

Either way the server returns the network's raw outputs and the client decodes them (greedy CTC)
itself, so a plain ONNX/TensorRT model in a stock Triton is a valid lpr-edge server. The client
learns the spec (charset, size, normalisation), precision and backend from a JSON object
``{"spec": ..., "precision": ..., "backend": ...}``: the model config parameter ``lpr_edge_model``,
or, where the server cannot set config parameters (PyTriton), the output ``lpr_edge_model``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import InputError

PIXELS_INPUT = "crops"
MODEL_KEY = "lpr_edge_model"
SCHEMES = ("grpc", "http")
DEFAULT_PORTS = {"grpc": 8001, "http": 8000}


def model_info(spec, precision: str, backend: str, probabilities: str | None = None) -> str:
    """The ``lpr_edge_model`` JSON a server publishes for its model; ``probabilities``: the output
    holding the per-step class probabilities, where the server sends them (the CTC posterior)."""
    info = {"spec": spec.to_dict(), "precision": precision, "backend": backend}
    if probabilities:
        info["probabilities"] = probabilities
    return json.dumps(info, ensure_ascii=False)


def is_url(model: object) -> bool:
    """Whether a model argument names a server (``grpc://`` or ``http://``) rather than a file."""
    return isinstance(model, str) and model.split("://", 1)[0].lower() in SCHEMES and "://" in model


@dataclass(frozen=True)
class ServerAddress:
    """A parsed ``grpc://HOST[:PORT]/NAME[/VERSION]``."""

    scheme: str
    host: str
    port: int
    model: str
    version: str = ""

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        version = f"/{self.version}" if self.version else ""
        return f"{self.scheme}://{self.endpoint}/{self.model}{version}"


def parse_address(url: str) -> ServerAddress:
    """Parse a server URL; InputError naming the expected form when it does not fit."""
    form = "grpc://HOST:PORT/NAME or http://HOST:PORT/NAME (e.g. grpc://localhost:8001/lpr)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"bad server URL {url!r} ({exc}); expected {form}") from None
    path = [p for p in parts.path.split("/") if p]
    if parts.scheme.lower() not in SCHEMES or not parts.hostname or not 1 <= len(path) <= 2:
        raise InputError(f"bad server URL {url!r}; expected {form}")
    if len(path) == 2 and not path[1].isdigit():
        raise InputError(f"bad model version {path[1]!r} in {url!r}; a version is a number (…/lpr/1)")
    scheme = parts.scheme.lower()
    return ServerAddress(scheme, parts.hostname, port or DEFAULT_PORTS[scheme], path[0],
                         path[1] if len(path) == 2 else "")
