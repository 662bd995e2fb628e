"""The optional GPU stack (TensorRT's Python bindings, pycuda, a CUDA device): one place that
imports it lazily, says why it is unusable, and what to install."""
from __future__ import annotations

import importlib

from .errors import BackendUnavailable

TENSORRT_HINT = ("TensorRT's Python bindings: on Jetson `sudo apt install python3-libnvinfer` (JetPack; in a venv "
                 "made with --system-site-packages), on a desktop `pip install tensorrt`")
PYCUDA_HINT = ("pycuda: `pip install 'lpr-edge[trt]'` (builds from source: needs the CUDA toolkit, on Jetson "
               "export PATH=/usr/local/cuda/bin:$PATH first)")


def import_problem(module: str) -> str | None:
    """Why ``module`` cannot be imported (one line), or None."""
    try:
        importlib.import_module(module)
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def import_tensorrt():
    """The ``tensorrt`` module, or BackendUnavailable saying what to install."""
    problem = import_problem("tensorrt")
    if problem:
        raise BackendUnavailable(f"TensorRT is not available ({problem}); install {TENSORRT_HINT}. "
                                 "`lpr-edge calibrate` and ONNX Runtime work without it")
    return importlib.import_module("tensorrt")


def import_pycuda_driver():
    """``pycuda.driver``, or BackendUnavailable saying what to install."""
    problem = import_problem("pycuda.driver")
    if problem:
        raise BackendUnavailable(f"pycuda is not available ({problem}); install {PYCUDA_HINT}")
    return importlib.import_module("pycuda.driver")


def unavailable_reason() -> str | None:
    """Why a TensorRT engine cannot run here (bindings, pycuda, CUDA device), or None if it can."""
    for module, hint in (("tensorrt", TENSORRT_HINT), ("pycuda.driver", PYCUDA_HINT)):
        problem = import_problem(module)
        if problem:
            return f"{module} cannot be imported ({problem}); install {hint}"
    try:
        cuda = importlib.import_module("pycuda.driver")
        cuda.init()
        if cuda.Device.count() == 0:
            return "no CUDA device found"
    except Exception as exc:
        return f"CUDA driver unavailable ({exc})"
    return None
