from pathlib import Path

import re

from setuptools import find_packages, setup

here = Path(__file__).parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (here / "lpr_edge" / "__init__.py").read_text(), re.M).group(1)

setup(
    name="lpr-edge",
    version=VERSION,
    description="Licence-plate recognition (LPRNet) on NVIDIA Jetson with TensorRT, and on any CPU with ONNX Runtime",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["lpr_edge", "lpr_edge.*"]),
    package_data={"lpr_edge": ["models/*.onnx", "models/*.md", "models/*.json"]},
    install_requires=[
        "numpy>=1.22",
        "opencv-python>=4.6",
        "onnx>=1.14",
        "onnxruntime>=1.16",
        "onnxsim>=0.4.33",
        "matplotlib>=3.5",
        "tqdm>=4.60",
    ],
    extras_require={
        # TensorRT itself comes from JetPack (python3-libnvinfer) or NVIDIA's packages.
        "trt": ["pycuda>=2022.1"],
        # Pinned: this version is the CPU build; an open range can pull a multi-GB CUDA build.
        # Fonts pinned: the synthetic training plates (and so the bundled model) depend on their glyphs.
        "train": ["torch==2.13.0", "pillow", "font-fjallaone==0.1.7", "font-roboto==0.0.1", "font-lato==0.1.0",
                  "font-source-sans-pro==0.0.1", "font-hanken-grotesk==0.0.2", "font-manrope==0.0.2",
                  "font-rhd==0.1.3"],
        "dev": ["pytest>=7"],
    },
    entry_points={"console_scripts": ["lpr-edge=lpr_edge.cli:main_exit"]},
)
