"""``lpr_edge.tracks.PlateTracks``: the documented path of fused readings per track (it lives in
:mod:`lpr_edge.runtime.tracks`)."""
from .runtime.tracks import IouTracker, PlateTracks, TrackReading

__all__ = ["IouTracker", "PlateTracks", "TrackReading"]
