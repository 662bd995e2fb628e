"""What an export packs: the ONNX model, its spec and output types, and optionally a built engine."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import onnx

from ..bundled import resolve_model
from ..errors import ModelFileError
from ..formats.engine_manifest import Manifest, read_manifest
from ..formats.onnx_spec import load_onnx, onnx_precision, resolve_spec
from ..formats.trt_cache import version_code
from ..spec import ModelSpec


@dataclass
class ExportSource:
    """A model (and engine) resolved for export."""

    onnx_path: Path
    spec: ModelSpec
    output_types: dict[str, int]  # output name -> onnx.TensorProto data type
    precision: str
    engine_path: Path | None = None
    manifest: Manifest | None = None

    @property
    def probabilities(self) -> str | None:
        """The engine's output of per-step class probabilities (``lpr-edge build`` adds it to TAO-style
        models, for the CTC posterior); None for an ONNX source, whose file keeps the spec's outputs."""
        return self.manifest.extra.get("probabilities") if self.engine_path and self.manifest else None


def export_source(model: str | os.PathLike | None, engine: str | os.PathLike | None = None) -> ExportSource:
    """Resolve ``model`` (bundled name or .onnx; default: the engine's own ONNX, else ``us``) and ``engine``."""
    manifest = read_manifest(engine) if engine else None
    if model is None and manifest is not None:
        onnx_path = manifest.onnx_path(Path(engine))
        if onnx_path is None or not onnx_path.is_file():
            raise ModelFileError(f"the ONNX {engine} was built from ({manifest.onnx or 'not recorded'}) is not "
                                 "beside it; pass it with --model")
    else:
        onnx_path = resolve_model(model)
    graph = load_onnx(onnx_path)
    spec = manifest.spec if manifest else resolve_spec(graph, source=str(onnx_path))
    types = {o.name: o.type.tensor_type.elem_type for o in graph.graph.output}
    missing = [name for name in spec.outputs if name not in types]
    if missing:
        raise ModelFileError(f"{onnx_path} has no output {', '.join(missing)} that the spec names; pass the ONNX "
                             "the engine was built from with --model")
    types = {n: types[n] for n in spec.outputs}
    if manifest is not None:
        types = engine_output_types(manifest, types)
    return ExportSource(Path(onnx_path), spec, types, manifest.precision if manifest else onnx_precision(graph),
                        Path(engine) if engine else None, manifest)


# TensorRT DataType names -> the ONNX types Triton's config is written from.
_FROM_TRT = {"FLOAT": onnx.TensorProto.FLOAT, "HALF": onnx.TensorProto.FLOAT16, "INT32": onnx.TensorProto.INT32,
             "INT64": onnx.TensorProto.INT64, "INT8": onnx.TensorProto.INT8, "UINT8": onnx.TensorProto.UINT8,
             "BOOL": onnx.TensorProto.BOOL}


def _without_int64(trt_version: str) -> bool:
    """TensorRT before 10 has no INT64 (a manifest's unreadable version counts as a current one)."""
    try:
        return version_code(trt_version) < version_code("10.0")
    except ValueError:
        return False


def engine_output_types(manifest: Manifest, onnx_types: dict[str, int]) -> dict[str, int]:
    """The types the engine gives, which Triton checks a plan against: as its manifest recorded them at
    build time; for an engine built before that was recorded, TensorRT 8.5's parser rule (it has no INT64:
    INT64 outputs become INT32)."""
    recorded = manifest.extra.get("outputs") or {}
    out = {}
    for name, elem in onnx_types.items():
        if recorded.get(name) in _FROM_TRT:
            out[name] = _FROM_TRT[recorded[name]]
        elif elem == onnx.TensorProto.INT64 and _without_int64(manifest.trt_version):
            out[name] = onnx.TensorProto.INT32
        else:
            out[name] = elem
    return out


def onnx_type_name(elem_type: int) -> str:
    """``onnx.TensorProto.INT32`` -> ``INT32``."""
    return onnx.TensorProto.DataType.Name(elem_type)
