"""Plates across frames: a fused reading per track, updated as the track's crops arrive.

A detector with a tracker gives each vehicle a track id; every frame adds one crop. ``PlateTracks`` keeps,
per track, the readings of its views and the per-step class probabilities behind them (a few kilobytes a
view, never the crops), at most ``max_views`` of them (the surest), and answers with the fused reading
(:mod:`lpr_edge.runtime.fusion`) and whether it is settled: at least ``settle_views`` views and a fused
confidence of at least ``settle_confidence``. Tracks not updated for ``idle_s`` seconds are closed by
:meth:`PlateTracks.expire`. Thread-safe: the Recognizer serialises its own calls, a lock guards the tracks.

It does not associate detections across frames: bring the detector's tracker, or for a detector that
gives boxes only, :class:`IouTracker` (boxes to track ids by overlap with the previous frame's boxes).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Hashable, Sequence, Tuple

import numpy as np

from ..errors import InputError
from .decode import PlateResult
from .fusion import fuse

Box = Tuple[float, float, float, float]  # x, y, width, height in pixels of the frame


class IouTracker:
    """Track ids for the plate boxes of successive frames, for detectors without a tracker.

    Each box joins the live track whose last box overlaps it most (intersection over union at least
    ``min_iou``; best pairs first, one box per track), the others start new tracks (ids 0, 1, 2, ...); a
    track unmatched for more than ``max_missed`` frames ends and its id is listed in :attr:`ended` after
    that update (close it in :class:`PlateTracks`). It does not predict motion (a vehicle moving more than
    its plate's size between frames, or hidden for a while, gets a new id), re-identify a vehicle once
    lost, or look at the pixels: a tracker such as ByteTrack does those.
    """

    def __init__(self, min_iou: float = 0.3, max_missed: int = 5):
        if not 0.0 < min_iou <= 1.0 or max_missed < 0:
            raise InputError(f"min_iou must be in (0, 1] and max_missed at least 0, got {min_iou} and {max_missed}")
        self.min_iou, self.max_missed = min_iou, max_missed
        self.ended: list[int] = []
        self._live: dict[int, tuple[Box, int]] = {}  # id -> (last box, frames since it was seen)
        self._next = 0
        self._lock = threading.Lock()

    def update(self, boxes: Sequence[Box]) -> list[int]:
        """The track id of each box of this frame, in order."""
        boxes = [tuple(float(v) for v in b) for b in boxes]
        for b in boxes:
            if len(b) != 4 or b[2] <= 0 or b[3] <= 0:
                raise InputError(f"box {b} is not (x, y, width, height) with a positive width and height")
        with self._lock:
            pairs = sorted(((_iou(box, last), i, t) for i, box in enumerate(boxes)
                            for t, (last, _) in self._live.items()), reverse=True)
            ids: list[int | None] = [None] * len(boxes)
            taken: set[int] = set()
            for iou, i, t in pairs:
                if iou < self.min_iou:
                    break
                if ids[i] is None and t not in taken:
                    ids[i] = t
                    taken.add(t)
            for i in range(len(boxes)):
                if ids[i] is None:
                    ids[i], self._next = self._next, self._next + 1
            self.ended = []
            for t, (last, missed) in list(self._live.items()):
                if t not in taken:
                    if missed + 1 > self.max_missed:
                        del self._live[t]
                        self.ended.append(t)
                    else:
                        self._live[t] = (last, missed + 1)
            for i, t in enumerate(ids):
                self._live[t] = (boxes[i], 0)
            return [int(t) for t in ids]


def _iou(a: Box, b: Box) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@dataclass(frozen=True)
class TrackReading:
    """A track's fused reading now: ``views`` folded in, ``settled`` once it can be acted on."""

    track_id: Hashable
    result: PlateResult
    views: int
    settled: bool

    def to_dict(self) -> dict:
        return {"track_id": self.track_id, **self.result.to_dict(), "views": self.views, "settled": self.settled}


@dataclass
class _Track:
    readings: list[PlateResult] = field(default_factory=list)
    probs: list[np.ndarray | None] = field(default_factory=list)
    last_seen: float = 0.0
    fused: TrackReading | None = None  # the reading after the last view, fused once


class PlateTracks:
    """Fused readings of plates seen in several frames, keyed by the caller's track id."""

    def __init__(self, recognizer, *, settle_views: int = 3, settle_confidence: float = 0.741,
                 max_views: int = 16, idle_s: float = 2.0, clock: Callable[[], float] = time.monotonic):
        """``recognizer``: a :class:`~lpr_edge.Recognizer`. ``settle_confidence`` defaults to the bundled US
        model's ``min_confidence`` for 99 % precision on single crops (choose yours with ``lpr-edge eval
        --track-column``)."""
        if settle_views < 1 or max_views < 1:
            raise InputError(f"settle_views and max_views must be at least 1, got {settle_views} and {max_views}")
        self.recognizer = recognizer
        self.settle_views, self.settle_confidence = settle_views, settle_confidence
        self.max_views, self.idle_s = max_views, idle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._tracks: dict[Hashable, _Track] = {}

    def update(self, track_id: Hashable, crop: np.ndarray) -> TrackReading:
        """Read one crop of ``track_id`` and fold it into the track."""
        return self.update_batch([(track_id, crop)])[0]

    def update_batch(self, items: Sequence[tuple[Hashable, np.ndarray]]) -> list[TrackReading]:
        """Read the crops of one frame (any tracks) in one Recognizer call; each track's reading after it."""
        if not items:
            return []
        readings, probs = self.recognizer.read_views([crop for _, crop in items])
        return [self.add(track_id, reading, None if probs is None else probs[i])
                for i, ((track_id, _), reading) in enumerate(zip(items, readings))]

    def add(self, track_id: Hashable, reading: PlateResult, probabilities: np.ndarray | None = None) -> TrackReading:
        """Fold a view read elsewhere (``Recognizer.read_views``) into ``track_id``."""
        with self._lock:
            track = self._tracks.setdefault(track_id, _Track())
            track.readings.append(reading)
            track.probs.append(None if probabilities is None else np.asarray(probabilities, np.float32))
            track.last_seen = self._clock()
            if len(track.readings) > self.max_views:  # bounded: the least sure view goes
                weakest = min(range(len(track.readings)), key=lambda i: track.readings[i].confidence)
                del track.readings[weakest], track.probs[weakest]
            track.fused = self._fuse(track_id, track)
            return track.fused

    def get(self, track_id: Hashable) -> TrackReading | None:
        """The track's fused reading, or None for a track not seen (or closed)."""
        with self._lock:
            track = self._tracks.get(track_id)
            return None if track is None else track.fused

    def close(self, track_id: Hashable) -> TrackReading | None:
        """End a track (the vehicle left): its last fused reading; its state is dropped."""
        with self._lock:
            track = self._tracks.pop(track_id, None)
            return None if track is None else track.fused

    def close_all(self) -> list[TrackReading]:
        """End every track (shutting down): their last fused readings."""
        with self._lock:
            tracks, self._tracks = self._tracks, {}
            return [track.fused for track in tracks.values()]

    def expire(self) -> list[TrackReading]:
        """Close every track not updated for ``idle_s`` seconds; their last readings (call from a timer)."""
        now = self._clock()
        with self._lock:
            idle = [t for t, track in self._tracks.items() if now - track.last_seen >= self.idle_s]
            return [self._tracks.pop(t).fused for t in idle]

    def __len__(self) -> int:
        with self._lock:
            return len(self._tracks)

    def _fuse(self, track_id: Hashable, track: _Track) -> TrackReading:
        spec = self.recognizer.spec
        probs = None if any(p is None for p in track.probs) else np.stack(track.probs)
        result = fuse(track.readings, probs, spec.charset, spec.blank)
        settled = len(track.readings) >= self.settle_views and result.confidence >= self.settle_confidence
        return TrackReading(track_id, result, len(track.readings), settled)
