"""lpr-edge: licence-plate recognition with LPRNet on TensorRT (Jetson) and ONNX Runtime (CPU).

``from lpr_edge import Recognizer`` is the entry point for robot code. Nothing here imports
TensorRT or pycuda; those load only when a TensorRT engine is opened or built.
"""
__version__ = "0.1.0"

from .errors import (  # noqa: E402
    BackendUnavailable,
    ClosedError,
    CropError,
    DatasetError,
    InferenceError,
    InputError,
    LprEdgeError,
    ModelFileError,
    OutputError,
    SpecError,
)
from .runtime.decode import PlateResult, greedy_ctc  # noqa: E402
from .runtime.recognizer import Recognizer  # noqa: E402
from .spec import ModelSpec  # noqa: E402

__all__ = ["Recognizer", "PlateResult", "ModelSpec", "greedy_ctc", "LprEdgeError", "InputError",
           "ModelFileError", "SpecError", "DatasetError", "OutputError", "BackendUnavailable", "ClosedError",
           "CropError", "InferenceError",
           "__version__"]
