"""Test doubles of ``tensorrt`` (8.5 / 10.3 / 11.x surfaces) and ``pycuda.driver``, split by what
they fake; ``install`` puts both into ``sys.modules`` for one test."""
from __future__ import annotations

import types

from .pycuda_double import LogicError, make_pycuda
from .tensorrt_double import make_tensorrt
from .tensorrt_double_base import version_code

__all__ = ["LogicError", "make_pycuda", "make_tensorrt", "version_code", "install"]


def install(monkeypatch, trt_version="10.3.0", integrated=False, dla_cores=0, **cuda_kwargs):
    """Put both doubles into ``sys.modules`` for one test; returns (trt, cuda)."""
    import sys

    cuda = make_pycuda(integrated=integrated, **cuda_kwargs)
    trt = make_tensorrt(trt_version, cuda, dla_cores)
    pycuda_pkg = types.ModuleType("pycuda")
    pycuda_pkg.driver = cuda
    pycuda_pkg.__version__ = "2026.1-fake"
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "pycuda", pycuda_pkg)
    monkeypatch.setitem(sys.modules, "pycuda.driver", cuda)
    from lpr_edge.runtime.backends import cuda_context

    monkeypatch.setattr(cuda_context, "release_primary_context", cuda.release_primary_from_any_thread, raising=False)
    return trt, cuda
