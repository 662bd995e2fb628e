"""Each JetPack's Python gets wheels for every base requirement (and the client/serve extras): nothing but
pycuda compiles on a Jetson.

Resolves the installed lpr-edge's base requirements with pip for aarch64 at each JetPack's
Python and glibc (only binary wheels allowed, nothing downloaded but metadata). Needs the
package index; skips with the reason where it cannot be reached.
"""
from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest

# JetPack: (Python, glibc of its Ubuntu)
JETPACKS = {"JetPack 5 (Ubuntu 20.04)": ("3.8", (2, 31)), "JetPack 6 (Ubuntu 22.04)": ("3.10", (2, 35)),
            "JetPack 7 (Ubuntu 24.04)": ("3.12", (2, 39))}
OFFLINE = ("Failed to establish", "Network is unreachable", "Temporary failure in name resolution",
           "Could not fetch URL", "No route to host", "ConnectionError")


def base_requirements(python: str, extra: str = "") -> list[str]:
    """lpr-edge's install_requires (and ``extra``'s) whose markers hold on an aarch64 Linux with ``python``."""
    from packaging.requirements import Requirement

    env = {"python_version": python, "python_full_version": f"{python}.0", "platform_machine": "aarch64",
           "sys_platform": "linux", "platform_system": "Linux", "implementation_name": "cpython", "extra": extra}
    out = []
    for text in metadata.requires("lpr-edge") or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(env):
            req.marker = None
            out.append(str(req))
    return out


def test_base_requirements_for_jetpack_python_are_markers_of_the_right_numpy():
    assert any(r.startswith("numpy") and "<1.25" in r for r in base_requirements("3.8"))
    assert any(r.startswith("numpy") and "<2" in r for r in base_requirements("3.10"))
    assert not any("onnxsim" in r for r in base_requirements("3.12"))  # toolchain extra, not the runtime


# What each extra must resolve to on which JetPack: the Triton client everywhere; the server (PyTriton's
# wheels need glibc 2.35) from JetPack 6 on.
EXTRAS = [(jp, "") for jp in sorted(JETPACKS)] + [(jp, "client") for jp in sorted(JETPACKS)] + \
    [("JetPack 6 (Ubuntu 22.04)", "serve"), ("JetPack 7 (Ubuntu 24.04)", "serve")]


@pytest.mark.parametrize("jetpack, extra", EXTRAS)
def test_requirements_resolve_to_aarch64_wheels(jetpack, extra, tmp_path):
    python, (major, minor) = JETPACKS[jetpack]
    platforms = [f"manylinux_{major}_{m}_aarch64" for m in range(17, minor + 1)] + ["manylinux2014_aarch64"]
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
           "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
           "--target", str(tmp_path / "t"), "--report", str(tmp_path / "report.json")]
    for p in platforms:
        cmd += ["--platform", p]
    try:
        proc = subprocess.run(cmd + base_requirements(python, extra), capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:  # the index answered nothing in time: not a "no wheel", so no verdict
        pytest.skip(f"{jetpack}: pip's resolution took over 300 s (a slow package index); nothing said no")
    if proc.returncode and any(s in proc.stderr for s in OFFLINE):
        pytest.skip(f"package index unreachable: {proc.stderr.strip().splitlines()[-1][:120]}")
    assert proc.returncode == 0, f"{jetpack}: a requirement has no aarch64 wheel:\n{proc.stderr[-2000:]}"
    report = json.loads((tmp_path / "report.json").read_text())
    wheels = {i["metadata"]["name"].lower(): i["download_info"]["url"].rsplit("/", 1)[-1] for i in report["install"]}
    assert {"numpy", "onnxruntime", "opencv-python", "onnx"} <= set(wheels)
    assert extra != "client" or "tritonclient" in wheels
    assert extra != "serve" or "nvidia-pytriton" in wheels
    assert all(w.endswith(".whl") and ("aarch64" in w or w.endswith("none-any.whl")) for w in wheels.values())
