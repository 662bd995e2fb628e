"""Backends and how one is chosen for a model file.

``.onnx`` files run on ONNX Runtime. ``.engine``/``.plan`` files run on TensorRT when TensorRT,
pycuda and a CUDA device are present; with ``backend="auto"`` an engine on a machine without them
falls back to ONNX Runtime on the ONNX its manifest names.
"""
from __future__ import annotations

import os
from pathlib import Path

from ...errors import BackendUnavailable, InputError, ModelFileError
from ...spec import ModelSpec
from .base import Backend

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
BACKENDS = ("auto", "onnxruntime", "tensorrt")


def open_backend(model_path: str | os.PathLike, backend: str = "auto", *, spec: ModelSpec | None = None,
                 preset: str | None = None, max_batch: int = 32, threads: int = 0) -> Backend:
    """Open ``model_path`` on the asked-for backend (see module doc for ``auto``)."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    path = Path(model_path)
    if path.suffix.lower() in ENGINE_SUFFIXES:
        return _open_engine(path, backend, spec, max_batch, threads)
    if backend == "tensorrt":
        raise InputError(f"{path} is not a TensorRT engine; build one with: lpr-edge build --onnx {path}")
    return _open_onnx(path, spec, preset, max_batch, threads)


def _open_onnx(path: Path, spec, preset, max_batch, threads) -> Backend:
    from ...formats.onnx_spec import load_onnx, onnx_precision, resolve_spec
    from .onnxruntime_backend import OnnxRuntimeBackend

    model = load_onnx(path)
    spec = resolve_spec(model, spec=spec, preset_name=preset, source=str(path))
    return OnnxRuntimeBackend(path, spec, max_batch, threads, precision=onnx_precision(model))


def _open_engine(path: Path, backend: str, spec, max_batch, threads) -> Backend:
    from ...formats.engine_manifest import read_manifest

    manifest = read_manifest(path)
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
    return _open_onnx(onnx_path, spec or manifest.spec, None, max_batch, threads)
