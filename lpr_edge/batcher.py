"""``lpr_edge.batcher.PlateBatcher``: the documented path of the robot-integration batcher
(it lives in :mod:`lpr_edge.runtime.batcher`)."""
from .runtime.batcher import PlateBatcher, Reading

__all__ = ["PlateBatcher", "Reading"]
