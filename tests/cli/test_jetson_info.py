"""`lpr-edge info` on a Jetson: JetPack, its Python and TensorRT from /etc/nv_tegra_release."""
from __future__ import annotations

from lpr_edge.environment import advice, jetpack_release


def test_jetpack_release_from_nv_tegra_release():
    jp5 = jetpack_release("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: x")
    assert jp5 == {"l4t_version": "35.4.1", "jetpack": "5.1.2", "jetpack_python": "3.8", "jetpack_tensorrt": "8.5"}
    jp6 = jetpack_release("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64")
    assert jp6["jetpack"] == "6.2" and jp6["jetpack_python"] == "3.10"
    assert jetpack_release("# R36 (release), REVISION: 9.9")["jetpack"] == "6.x"  # unknown revision: the family
    assert jetpack_release("not a release line") == {}


def test_advice_names_the_python_jetpack_ships_tensorrt_for():
    env = {"python": "3.11.7", "tensorrt": None, "pycuda": None,
           "jetson": {"jetpack": "5.1.2", "jetpack_python": "3.8", "power_mode": "MAXN"}}
    tips = " ".join(advice(env))
    assert "Python 3.8 only" in tips and "--system-site-packages" in tips and "python3-libnvinfer" in tips
    env["python"] = "3.8.10"
    assert "only" not in " ".join(advice(env))
