"""TensorRT's INT8 calibration cache format, read and written without TensorRT.

Text file: line 1 ``TRT-<version code>-<algorithm>``, then one ``tensor_name: <hex>`` per tensor,
``<hex>`` being the float32 bit pattern of the scale written most-significant byte first;
dynamic range (amax) = scale * 127. TensorRT writes a zero scale as a bare ``0``.
Version codes: 8.x -> major*1000 + minor*100 + patch (8.5.2 -> 8502); 10.x and later ->
major*10000 + minor*100 + patch (10.3.0 -> 100300).
"""
from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_text
from ..errors import ModelFileError

ALGORITHMS = {"entropy": "EntropyCalibration2", "max": "MinMaxCalibration", "percentile": "EntropyCalibration2"}
_LINE = re.compile(r"^(?P<name>.+): (?P<hex>[0-9a-fA-F]{1,8})$")


@dataclass
class CalibrationCache:
    """Per-tensor INT8 scales (amax / 127) and the header they came with."""

    scales: dict[str, float]
    version_code: int = 8502
    algorithm: str = "EntropyCalibration2"

    def amax(self, name: str) -> float:
        return self.scales[name] * 127.0

    @property
    def header(self) -> str:
        return f"TRT-{self.version_code}-{self.algorithm}"

    def to_text(self) -> str:
        lines = [self.header] + [f"{name}: {scale_to_hex(s)}" for name, s in self.scales.items()]
        return "\n".join(lines) + "\n"


def version_code(version: str) -> int:
    """NV_TENSORRT_VERSION of a dotted version: '8.5.2' -> 8502, '10.3' -> 100300."""
    parts = [int(p) for p in re.findall(r"\d+", str(version))[:3]]
    if not parts:
        raise ValueError(f"not a TensorRT version: {version!r}")
    major, minor, patch = (parts + [0, 0])[:3]
    return major * 1000 + minor * 100 + patch if major < 10 else major * 10000 + minor * 100 + patch


def scale_to_hex(scale: float) -> str:
    """Float32 bits of ``scale``, big-endian hex; zero as TensorRT writes it (``0``)."""
    bits = struct.unpack(">I", struct.pack(">f", float(scale)))[0]
    return "0" if bits == 0 else f"{bits:08x}"


def hex_to_scale(text: str) -> float:
    return struct.unpack(">f", bytes.fromhex(text.rjust(8, "0")))[0]


def parse_cache(text: str, source: str = "cache") -> CalibrationCache:
    """Parse TensorRT cache text (ours or TensorRT's own)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ModelFileError(f"{source} is empty; make one with lpr-edge calibrate")
    m = re.match(r"^TRT-(\d+)-(\w+)$", lines[0])
    if not m:
        raise ModelFileError(f"{source} is not a TensorRT calibration cache (first line {lines[0][:60]!r}, "
                             "expected TRT-<version>-<algorithm>)")
    scales: dict[str, float] = {}
    for i, line in enumerate(lines[1:], start=2):
        lm = _LINE.match(line)
        if not lm:
            raise ModelFileError(f"{source} line {i} is not 'tensor_name: hexscale': {line[:80]!r}")
        scales[lm["name"]] = hex_to_scale(lm["hex"])
    return CalibrationCache(scales, int(m[1]), m[2])


def read_cache(path: str | os.PathLike) -> CalibrationCache:
    """Read a calibration cache file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"calibration cache {p} does not exist; make one with lpr-edge calibrate") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read calibration cache {p}: {exc.strerror}") from None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise ModelFileError(f"{p} is not a TensorRT calibration cache (binary data); "
                             "make one with lpr-edge calibrate") from None
    return parse_cache(text, str(p))


def write_cache(path: str | os.PathLike, cache: CalibrationCache) -> None:
    """Atomically write ``cache`` in TensorRT's format."""
    write_text(path, cache.to_text())


def check_names(cache: CalibrationCache, tensor_names: set[str], source: str = "cache") -> None:
    """Fail if the cache shares no tensor with the model (a cache made for another model)."""
    known = set(cache.scales) & tensor_names
    if not known:
        example = next(iter(cache.scales), "?")
        raise ModelFileError(f"{source} has no scale for any tensor of this model (e.g. {example!r}); "
                             "it was made for another model: run lpr-edge calibrate for this one")
