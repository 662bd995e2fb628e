"""The one exception family lpr-edge raises: each error says what was wrong and what to do."""
from __future__ import annotations


class LprEdgeError(Exception):
    """Base class of every error lpr-edge raises on purpose.

    The message is one line: what was wrong, then what to do about it.
    """

    exit_code = 1


class InputError(LprEdgeError, ValueError):
    """A crop, array or argument handed to lpr-edge is unusable."""

    exit_code = 2


class CropError(InputError):
    """One crop of a batch is unusable; ``index`` is its position in the caller's list."""

    def __init__(self, index: int, problem: str):
        self.index, self.problem = index, problem
        super().__init__(f"crop {index} {problem}")

    def shifted(self, offset: int) -> "CropError":
        """The same error numbered in a larger list (the Recognizer runs chunks of the caller's list)."""
        return CropError(self.index + offset, self.problem)


class ModelFileError(LprEdgeError):
    """A model, engine, manifest, cache or label file is missing, damaged or does not fit."""

    exit_code = 2


class SpecError(ModelFileError):
    """A model spec is invalid or does not match the model graph."""


class DatasetError(ModelFileError):
    """A dataset folder or labels.csv cannot be read."""


class OutputError(LprEdgeError):
    """An output file (engine, cache, model, report) cannot be written where it was asked for."""

    exit_code = 2


class BackendUnavailable(LprEdgeError):
    """The asked-for backend (TensorRT, pycuda, ONNX Runtime) cannot run on this machine."""

    exit_code = 2


class InferenceError(LprEdgeError):
    """The runtime failed while running a batch (TensorRT refused a shape or failed to enqueue)."""


class ClosedError(LprEdgeError):
    """The Recognizer or backend was closed; open a new one."""


class ServerError(LprEdgeError):
    """A Triton server (``grpc://``/``http://`` model) is unreachable, too slow, or refused a request."""
