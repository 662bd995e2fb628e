import re
from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (here / "lpr_edge" / "__init__.py").read_text(), re.M).group(1)

setup(
    name="lpr-edge",
    version=VERSION,
    description="Licence-plate recognition (LPRNet) on NVIDIA Jetson with TensorRT, and on any CPU with ONNX Runtime",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    # JetPack 5 = Python 3.8 (TensorRT 8.5), JetPack 6 = 3.10 (10.3), JetPack 7 = 3.12: TensorRT's
    # bindings exist only for JetPack's system Python, so the runtime supports all three.
    python_requires=">=3.8",
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.8",
        "Programming Language :: Python :: 3.9",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Operating System :: POSIX :: Linux",
        "Environment :: GPU :: NVIDIA CUDA",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
    packages=find_packages(include=["lpr_edge", "lpr_edge.*"]),
    package_data={"lpr_edge": ["models/*.onnx", "models/*.md", "train/recipes/*.json"]},
    # The runtime (Recognizer, recognize/eval/bench/info). Each resolves to wheels on x86_64 and on
    # aarch64 for every JetPack's Python and glibc (tests/test_platforms.py checks it).
    install_requires=[
        # 3.8: numpy 1.24, onnx 1.17, onnxruntime 1.19 are the last releases for it.
        "numpy>=1.22,<1.25; python_version<'3.9'",
        # JetPack 6 (3.10, aarch64): its TensorRT 10.3 and OpenCV stack are built against NumPy 1.x.
        "numpy>=1.22,<2; python_version=='3.10' and platform_machine=='aarch64'",
        "numpy>=1.22; python_version>='3.9' and (python_version!='3.10' or platform_machine!='aarch64')",
        "opencv-python>=4.6",
        "onnx>=1.14,<1.18; python_version<'3.9'",
        "onnx>=1.14; python_version>='3.9'",
        "onnxruntime>=1.16,<1.20; python_version<'3.9'",
        "onnxruntime>=1.16; python_version>='3.9'",
        "matplotlib>=3.5",
        "tqdm>=4.60",
    ],
    extras_require={
        # TensorRT itself comes from JetPack (python3-libnvinfer) or NVIDIA's packages.
        "trt": ["pycuda>=2022.1"],
        # ONNX preparation for build/export (onnxsim has no aarch64 wheel for Python 3.8: without it
        # build skips simplification with a warning).
        "toolchain": ["onnxsim>=0.4.33"],
        # Pinned: this version is the CPU build; an open range can pull a multi-GB CUDA build.
        # Fonts pinned: the synthetic training plates (and so the bundled model) depend on their glyphs.
        "train": ["torch==2.13.0", "onnxsim>=0.4.33", "pillow", "font-fjallaone==0.1.7", "font-roboto==0.0.1",
                  "font-lato==0.1.0",
                  "font-source-sans-pro==0.0.1", "font-hanken-grotesk==0.0.2", "font-manrope==0.0.2",
                  "font-rhd==0.1.3"],
        # Triton client only (Recognizer("grpc://HOST:8001/lpr") on robots and cameras).
        "client": ["tritonclient[grpc,http]>=2.40"],
        # lpr-edge serve: PyTriton ships Triton's server binary (x86_64 and aarch64, glibc >= 2.35). Pinned
        # to the releases lpr_edge/deploy/pytriton_patch.py was tested with (its TESTED range).
        "serve": ["nvidia-pytriton>=0.7,<0.8", "tritonclient[grpc,http]>=2.40"],
        # ROS 2's Python wheels from PyPI, where they exist (x86_64, Python 3.10-3.12): the node
        # (lpr_edge.deploy.ros2_node) and its tests under real rclpy. On a Jetson, JetPack's ROS 2 (source
        # /opt/ros/humble/setup.bash) provides rclpy instead, and this extra installs nothing.
        "ros": [f"{name}; platform_machine == 'x86_64' and python_version >= '3.10' and python_version < '3.13'"
                for name in ("ros-rclpy", "ros-sensor-msgs", "ros-std-msgs", "ros-rmw-fastrtps-cpp")],
        # mkdocs: the manual in docs/, built with --strict by the tests and CI.
        "dev": ["pytest>=7", "ruff>=0.6", "mkdocs>=1.6,<2; python_version>='3.9'",
                "mkdocs-material>=9.5,<10; python_version>='3.9'"],
    },
    entry_points={"console_scripts": ["lpr-edge=lpr_edge.cli:main_exit"]},
)
