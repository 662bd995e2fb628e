"""Fixtures shared by the toolchain tests."""
from __future__ import annotations

import onnx
import pytest

from ..conftest import build_toy_model, toy_spec


@pytest.fixture
def toy(tmp_path):
    """The toy model with TAO-style ArgMax/Max heads, saved to tmp_path: (path, spec)."""
    spec = toy_spec("argmax_max")
    path = tmp_path / "toy.onnx"
    onnx.save(build_toy_model(spec), path)
    return path, spec
