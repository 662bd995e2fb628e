"""What this machine has: library versions, TensorRT/pycuda, CUDA device, Jetson details.

Used by ``lpr-edge info`` (a doctor for robot setups) and stamped into every bench report.
Nothing here imports TensorRT or pycuda at module import time.
"""
from __future__ import annotations

import importlib
import platform
import shutil
import subprocess
from pathlib import Path

from .gpu_stack import PYCUDA_HINT, TENSORRT_HINT, import_problem


def _version(module: str) -> str | None:
    try:
        mod = importlib.import_module(module)
    except Exception:
        return None
    return str(getattr(mod, "__version__", "unknown"))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# L4T release -> JetPack release (NVIDIA's Jetson archive); the family decides Python and TensorRT.
JETPACK_BY_L4T = {"35.1": "5.0.2", "35.2.1": "5.1", "35.3.1": "5.1.1", "35.4.1": "5.1.2", "35.5.0": "5.1.3",
                  "35.6.0": "5.1.4", "36.2.0": "6.0 DP", "36.3.0": "6.0", "36.4.0": "6.1", "36.4.3": "6.2",
                  "36.4.4": "6.2.1", "38.2.0": "7.0"}
JETPACK_FAMILY = {35: ("5", "3.8", "8.5"), 36: ("6", "3.10", "10.3 (8.6 on 6.0)"), 38: ("7", "3.12", "10.13+")}


def jetpack_release(nv_tegra_release: str) -> dict:
    """JetPack release, its system Python and TensorRT, from the first line of /etc/nv_tegra_release
    (``# R35 (release), REVISION: 4.1, ...``); empty when the line is not understood."""
    import re

    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", nv_tegra_release)
    if not m:
        return {}
    major, revision = int(m[1]), m[2].rstrip(".")
    l4t = f"{major}.{revision}"
    family = JETPACK_FAMILY.get(major)
    out = {"l4t_version": l4t}
    if family:
        jetpack = JETPACK_BY_L4T.get(l4t) or JETPACK_BY_L4T.get(f"{l4t}.0") or f"{family[0]}.x"
        out.update(jetpack=jetpack, jetpack_python=family[1], jetpack_tensorrt=family[2])
    return out


def jetson_info() -> dict:
    """Jetson model, L4T/JetPack release, power mode and DLA cores; empty off Jetson."""
    info: dict = {}
    model_file = Path("/proc/device-tree/model")
    if model_file.exists():
        model = model_file.read_bytes().rstrip(b"\0").decode(errors="replace")
        if "jetson" in model.lower() or "orin" in model.lower() or "xavier" in model.lower():
            info["model"] = model
    release = Path("/etc/nv_tegra_release")
    if release.exists():
        first = (release.read_text(errors="replace").splitlines() or [""])[0].strip()
        info["l4t"] = first
        info.update(jetpack_release(first))
    if info and shutil.which("nvpmodel"):
        try:
            out = subprocess.run(["nvpmodel", "-q"], capture_output=True, text=True, timeout=5).stdout
            info["power_mode"] = " ".join(out.split())
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def cuda_device() -> dict:
    """Name and compute capability of CUDA device 0 via pycuda, or why there is none."""
    problem = import_problem("pycuda.driver")
    if problem:
        return {"available": False, "reason": f"pycuda not importable ({problem})"}
    import pycuda.driver as cuda

    try:
        cuda.init()
        if cuda.Device.count() == 0:
            return {"available": False, "reason": "no CUDA device"}
        dev = cuda.Device(0)
        major, minor = dev.compute_capability()
        return {"available": True, "name": dev.name(), "compute_capability": f"{major}.{minor}",
                "integrated": bool(dev.get_attribute(cuda.device_attribute.INTEGRATED)),
                "memory_mib": dev.total_memory() // (1 << 20)}
    except Exception as exc:
        return {"available": False, "reason": f"CUDA error: {exc}"}


def collect(full: bool = True) -> dict:
    """Everything a bench report or a support request needs about this machine."""
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "lpr_edge": _version("lpr_edge"),
        "numpy": _version("numpy"),
        "opencv": _version("cv2"),
        "onnx": _version("onnx"),
        "onnxruntime": _version("onnxruntime"),
    }
    trt_problem = import_problem("tensorrt")
    env["tensorrt"] = _version("tensorrt") if trt_problem is None else None
    if trt_problem:
        env["tensorrt_missing"] = trt_problem
    env["pycuda"] = _version("pycuda")
    if full and env["tensorrt"]:
        from .gpu_stack import import_tensorrt
        from .trt_compat import features, num_dla_cores

        trt = import_tensorrt()
        env["tensorrt_int8"] = "calibration cache (implicit)" if features(trt).implicit_int8 else "Q/DQ ONNX (explicit)"
        env["dla_cores"] = num_dla_cores(trt)
    if full:
        env["cuda_device"] = cuda_device()
        jetson = jetson_info()
        if jetson:
            env["jetson"] = jetson
    return env


def advice(env: dict) -> list[str]:
    """What to install or change, given :func:`collect`'s findings."""
    tips = []
    on_jetson = "jetson" in env
    if env.get("tensorrt") is None:
        tips.append(f"TensorRT Python is missing: install {TENSORRT_HINT}. CPU inference works without it.")
    if env.get("pycuda") is None:
        tips.append(f"pycuda is missing: install {PYCUDA_HINT}.")
    dev = env.get("cuda_device", {})
    if env.get("pycuda") and not dev.get("available"):
        tips.append(f"no usable CUDA device: {dev.get('reason')}")
    jp_python = env.get("jetson", {}).get("jetpack_python")
    if jp_python and env.get("python", "").rsplit(".", 1)[0] != jp_python:
        tips.append(f"JetPack {env['jetson']['jetpack']} ships TensorRT's Python bindings for Python {jp_python} only; "
                    f"this is Python {env['python']}: make the venv with python{jp_python} -m venv "
                    "--system-site-packages.")
    if on_jetson and "power_mode" not in env["jetson"]:
        tips.append("nvpmodel not found: cannot report the power mode (benchmarks depend on it).")
    if dev.get("available"):
        cc = float(dev.get("compute_capability", "0"))
        tips.append(f"FP16 is {'fast' if cc >= 5.3 else 'slow'} and INT8 is {'fast' if cc >= 6.1 else 'slow'} "
                    f"on compute capability {cc}.")
    return tips
