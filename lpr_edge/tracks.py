"""``lpr_edge.tracks.PlateTracks``: the documented path of fused readings per track (it lives in
:mod:`lpr_edge.runtime.tracks`)."""
from .runtime.tracks import PlateTracks, TrackReading

__all__ = ["PlateTracks", "TrackReading"]
