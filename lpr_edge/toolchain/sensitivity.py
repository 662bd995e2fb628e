"""Which layer's INT8 costs the most accuracy: each quantized layer kept in float in turn.

For every node the TensorRT Q/DQ model quantizes, the cache loses that node's activation scales
(what ``--keep-float NODE`` does), the Q/DQ model is rebuilt and read on a labelled set, and the
readings are compared plate by plate with FP32. The layers whose float copy wins back the most
plates are the ones worth ``--keep-float``; if none stands out, the INT8 change is spread thin.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..evaluation.harness import ModelReading, SampleSet, read_model
from ..evaluation.metrics import describe_change
from ..formats.onnx_spec import load_onnx
from ..formats.trt_cache import CalibrationCache
from ..spec import ModelSpec
from .calibrate import drop_scales, float_kept_tensors
from .onnx_prep import name_unnamed_nodes
from .qdq import make_qdq_model, quantized_nodes


def layer_sensitivity(onnx_path: str | os.PathLike, cache: CalibrationCache, sample_set: SampleSet, spec: ModelSpec,
                      progress: bool = False) -> dict:
    """FP32, all-INT8, and one row per quantized node kept in float, best first.

    Each row: ``node``, ``op``, ``also_float`` (nodes that lose quantization with it because they
    share the dropped tensors), ``perfect_match`` and ``vs_fp32`` (changed/gained/lost/p).
    """
    model = load_onnx(onnx_path)
    name_unnamed_nodes(model)  # as make_qdq_model names them
    ops = {n.name: n.op_type for n in model.graph.node}

    def read(path) -> ModelReading:
        return read_model(path, sample_set, spec=spec, max_batch=32)

    fp32 = read(onnx_path)
    everything = quantized_nodes(model, cache)
    nodes = everything
    if progress:
        from tqdm import tqdm

        nodes = tqdm(everything, desc="keeping one layer float at a time", unit="layer", leave=False)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lpr-edge-sens.") as tmp:
        int8 = read(make_qdq_model(onnx_path, cache, Path(tmp) / "all.onnx", spec))
        for i, node in enumerate(nodes):
            kept = drop_scales(cache, float_kept_tensors(model, [node]))
            reading = read(make_qdq_model(onnx_path, kept, Path(tmp) / f"{i}.onnx", spec))
            still = set(quantized_nodes(model, kept))
            also = [n for n in everything if n not in still and n != node]
            rows.append({"node": node, "op": ops[node], "also_float": also,
                         "perfect_match": reading.accuracy.perfect_match,
                         "vs_fp32": reading.against(fp32).to_dict()})
    rows.sort(key=lambda r: (-r["perfect_match"], r["vs_fp32"]["changed"]))
    return {"data": sample_set.name, "fp32": {"perfect_match": fp32.accuracy.perfect_match},
            "int8": {"perfect_match": int8.accuracy.perfect_match, "vs_fp32": int8.against(fp32).to_dict()},
            "layers": rows}


def sensitivity_table(report: dict) -> str:
    """The report as plain text for the terminal."""
    fp32, int8 = report["fp32"]["perfect_match"], report["int8"]["perfect_match"]
    v = report["int8"]["vs_fp32"]
    lines = [f"per-layer INT8 sensitivity on {report['data']} (TensorRT Q/DQ form)",
             f"  FP32 {fp32:.2%}; every layer INT8 {int8:.2%} ({(int8 - fp32) * 100:+.2f} pt; "
             f"{v['changed']} readings changed, {describe_change(v)})",
             f"  {'kept float':<48}{'perfect':>9}{'vs FP32':>10}{'changed':>9}  also float"]
    for r in report["layers"]:
        c = r["vs_fp32"]
        lines.append(f"  {r['node'][-47:]:<48}{r['perfect_match']:>8.2%}{(r['perfect_match'] - fp32) * 100:>+8.2f}pt"
                     f"{c['changed']:>9}  {', '.join('/'.join(n.split('/')[-3:]) for n in r['also_float'])}")
    return "\n".join(lines)
