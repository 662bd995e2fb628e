"""Backends and how one is chosen for a model file.

``.onnx`` files run on ONNX Runtime. ``.engine``/``.plan`` files run on TensorRT when TensorRT,
pycuda and a CUDA device are present; with ``backend="auto"`` an engine on a machine without them
falls back to ONNX Runtime on the ONNX its manifest names. ``grpc://`` and ``http://`` URLs are
models on a Triton server (``backend`` ``auto`` or ``triton``).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ...errors import BackendUnavailable, InputError, ModelFileError
from ...formats.triton_wire import is_url
from ...spec import ModelSpec
from .base import Backend

log = logging.getLogger("lpr_edge")
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
BACKENDS = ("auto", "onnxruntime", "tensorrt", "triton")


def open_backend(model_path: str | os.PathLike, backend: str = "auto", *, spec: ModelSpec | None = None,
                 preset: str | None = None, max_batch: int = 32, threads: int = 0, timeout: float = 30.0,
                 spin: bool = True) -> Backend:
    """Open ``model_path`` on the asked-for backend (see module doc for ``auto``)."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if is_url(model_path):
        if backend not in ("auto", "triton"):
            raise InputError(f"{model_path} is a server; use backend 'auto' or 'triton', not {backend!r}")
        from .triton_backend import TritonBackend

        return TritonBackend(str(model_path), max_batch=max_batch, timeout=timeout)
    if backend == "triton":
        raise InputError(f"backend 'triton' takes a server URL (grpc://HOST:PORT/NAME), not {model_path}")
    path = Path(model_path)
    if path.suffix.lower() in ENGINE_SUFFIXES:
        return _open_engine(path, backend, spec, max_batch, threads, spin)
    if backend == "tensorrt":
        raise InputError(f"{path} is not a TensorRT engine; build one with: lpr-edge build --onnx {path}")
    return _open_onnx(path, spec, preset, max_batch, threads, spin)


def _open_onnx(path: Path, spec, preset, max_batch, threads, spin: bool = True) -> Backend:
    from ...formats.onnx_spec import expose_probabilities, load_onnx, onnx_precision, resolve_spec
    from .onnxruntime_backend import OnnxRuntimeBackend

    model = load_onnx(path)
    spec = resolve_spec(model, spec=spec, preset_name=preset, source=str(path))
    probabilities = expose_probabilities(model, spec)
    return OnnxRuntimeBackend(path, spec, max_batch, threads, precision=onnx_precision(model),
                              model=model if probabilities else None, probabilities=probabilities, spin=spin)


def _open_engine(path: Path, backend: str, spec, max_batch, threads, spin: bool = True) -> Backend:
    from ...formats.engine_manifest import read_manifest, sha256_file

    manifest = read_manifest(path)
    problem = "backend onnxruntime asked for"
    if backend in ("auto", "tensorrt"):
        from ...gpu_stack import unavailable_reason
        from . import tensorrt_backend

        problem = unavailable_reason()
        if problem is None:
            return tensorrt_backend.TensorRTBackend(path, manifest, max_batch=max_batch)
        if backend == "tensorrt":
            raise BackendUnavailable(problem)
    onnx_path = manifest.onnx_path(path)
    if onnx_path is None or not onnx_path.is_file():
        raise ModelFileError(f"{path} needs TensorRT here and the ONNX it was built from "
                             f"({manifest.onnx or 'unknown'}) is not beside it to fall back to ONNX Runtime")
    if manifest.onnx_sha256 and sha256_file(onnx_path) != manifest.onnx_sha256:
        raise ModelFileError(f"{onnx_path} is not the ONNX {path.name} was built from (its SHA-256 differs from "
                             f"the manifest's), so it cannot stand in for the engine; rebuild: "
                             f"{manifest.rebuild_command()}")
    log.warning(f"lpr-edge: {path.name} runs on ONNX Runtime with {onnx_path.name}, not TensorRT ({problem})")
    return _open_onnx(onnx_path, spec or manifest.spec, None, max_batch, threads, spin)
