"""What the TensorRT double modules share."""
from __future__ import annotations


def version_code(version: str) -> int:
    """NV_TENSORRT_VERSION: 8.x major*1000+minor*100+patch, 10.x on major*10000+minor*100+patch."""
    major, minor, patch = (int(v) for v in (version.split(".") + ["0", "0"])[:3])
    return major * 1000 + minor * 100 + patch if major < 10 else major * 10000 + minor * 100 + patch
