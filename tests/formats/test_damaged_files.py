"""Damaged model, engine, manifest, cache and label files give one clear error."""
from __future__ import annotations

import numpy as np
import pytest

from lpr_edge import LprEdgeError
from lpr_edge.datasets import load_dataset
from lpr_edge.formats.engine_manifest import read_manifest
from lpr_edge.formats.onnx_spec import load_onnx
from lpr_edge.formats.trt_cache import read_cache

from ..conftest import build_toy_model, toy_spec


@pytest.mark.parametrize("reader, suffix", [(load_onnx, ".onnx"), (read_cache, ".cache"),
                                            (read_manifest, ".engine")])
def test_fuzz_file_readers(tmp_path, reader, suffix):
    rng = np.random.default_rng(1)
    valid = build_toy_model(toy_spec()).SerializeToString()
    for i in range(60):
        kind = i % 4
        data = [b"", rng.bytes(int(rng.integers(1, 4000))), valid[: int(rng.integers(1, len(valid)))],
                b"TRT-8502-Entropy\n" + rng.bytes(50)][kind]
        path = tmp_path / f"f{i}{suffix}"
        path.write_bytes(data)
        if suffix == ".engine":
            (tmp_path / f"f{i}{suffix}.json").write_bytes(rng.bytes(30) if kind else b"{}")
        try:
            reader(path)
        except LprEdgeError:
            pass


def test_fuzz_labels_csv(tmp_path):
    rng = np.random.default_rng(2)
    for i in range(40):
        d = tmp_path / f"d{i}"
        d.mkdir()
        (d / "labels.csv").write_bytes(rng.bytes(int(rng.integers(0, 300))) if i % 2 else
                                       b"file,text\n" + rng.bytes(int(rng.integers(0, 300))))
        try:
            load_dataset(d)
        except LprEdgeError:
            pass

