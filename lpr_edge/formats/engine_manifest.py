"""The JSON manifest written beside every engine: what it is, and what it needs to run.

An engine only runs on the TensorRT version and GPU it was built for; the manifest lets a
Recognizer refuse a mismatched engine with the rebuild command, before deserialising it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import write_text
from ..errors import ModelFileError
from ..spec import ModelSpec


@dataclass
class Manifest:
    """Facts about one engine file."""

    spec: ModelSpec
    precision: str
    trt_version: str
    gpu_name: str
    compute_capability: str
    profile: tuple[int, int, int]  # min, opt, max batch
    onnx: str = ""  # path of the source ONNX, relative to the engine's folder when possible
    onnx_sha256: str = ""
    cache_sha256: str = ""
    dla_core: int | None = None
    build_seconds: float = 0.0
    built_at: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        d = asdict(self)
        d["spec"] = self.spec.to_dict()
        d["profile"] = list(self.profile)
        return json.dumps(d, indent=2, ensure_ascii=False, sort_keys=True)

    def onnx_path(self, engine_path: Path) -> Path | None:
        """Where the source ONNX is, resolved against the engine's folder."""
        if not self.onnx:
            return None
        p = Path(self.onnx)
        return p if p.is_absolute() else (engine_path.parent / p)

    def rebuild_command(self) -> str:
        flag = {"fp16": " --fp16", "int8": " --int8"}.get(self.precision, "")
        mn, opt, mx = self.profile
        return f"lpr-edge build --onnx {self.onnx or 'MODEL.onnx'}{flag} --batch {mn},{opt},{mx}"

    def check_runtime(self, trt_version: str, gpu_name: str, compute_capability: str) -> None:
        """Raise ModelFileError if this engine was built for another TensorRT or GPU."""
        problems = []
        if self.trt_version and self.trt_version != trt_version:
            problems.append(f"built with TensorRT {self.trt_version}, this machine has {trt_version}")
        if self.compute_capability and self.compute_capability != compute_capability:
            problems.append(f"built for {self.gpu_name} (sm {self.compute_capability}), this GPU is "
                            f"{gpu_name} (sm {compute_capability})")
        if problems:
            raise ModelFileError("engine does not fit this machine: " + "; ".join(problems)
                                 + f". Rebuild it here: {self.rebuild_command()}")


def manifest_path(engine_path: str | os.PathLike) -> Path:
    """``model.engine`` -> ``model.engine.json``."""
    return Path(str(engine_path) + ".json")


def read_manifest(engine_path: str | os.PathLike) -> Manifest:
    """Read and check the manifest beside ``engine_path``."""
    engine_path = Path(engine_path)
    if not engine_path.is_file():
        raise ModelFileError(f"engine {engine_path} does not exist; build it with lpr-edge build")
    mp = manifest_path(engine_path)
    if not mp.is_file():
        raise ModelFileError(f"engine {engine_path} has no manifest {mp.name}; rebuild it with lpr-edge build "
                             "so the toolkit knows its spec, precision and batch profile")
    try:
        data = json.loads(mp.read_text(encoding="utf-8"))
        known = {f.name for f in dataclasses.fields(Manifest)}
        newer = sorted(set(data) - known) if isinstance(data, dict) else []
        if newer:  # a newer lpr-edge's manifest: what this one knows still holds
            logging.getLogger("lpr_edge").warning(f"lpr-edge: manifest {mp.name} has keys this lpr-edge does not "
                                                  f"know ({', '.join(newer)}), written by a newer one; ignored")
            data = {k: v for k, v in data.items() if k in known}
        data["spec"] = ModelSpec.from_dict(data["spec"])
        data["profile"] = tuple(int(v) for v in data["profile"])
        return Manifest(**data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"manifest {mp} is damaged ({type(exc).__name__}: {exc}); rebuild the engine") from None


def write_manifest(engine_path: str | os.PathLike, manifest: Manifest) -> Path:
    """Atomically write the manifest beside ``engine_path``."""
    mp = manifest_path(engine_path)
    write_text(mp, manifest.to_json() + "\n")
    return mp


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
