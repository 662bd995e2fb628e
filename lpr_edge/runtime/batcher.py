"""Collect crops arriving one by one (camera callbacks) into batches for a Recognizer.

Framework-neutral: the ROS 2 node (``lpr_edge.deploy.ros2_node``) is a thin layer over it.
A batch is run when ``batch_size`` crops are waiting or the oldest has waited ``max_wait_s``;
readings under ``min_confidence`` are dropped (an empty reading has confidence 0: with
``min_confidence`` 0 every crop is answered), and every reading keeps the caller's tag (frame id,
timestamp, track id) so it can be published against the right image. With ``tracks`` (a
:class:`~lpr_edge.runtime.tracks.PlateTracks`), each crop whose tag ``track_of`` maps to a track id is
also folded into that track, and the track's fused reading goes to ``publish_track``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable

import numpy as np

from ..errors import CropError, InputError, LprEdgeError
from .decode import PlateResult
from .tracks import PlateTracks, TrackReading


@dataclass(frozen=True)
class Reading:
    """One accepted plate reading and the tag its crop came with."""

    tag: Any
    result: PlateResult


class PlateBatcher:
    """Thread-safe crop queue that runs ``recognizer`` in batches and hands readings to ``publish``."""

    def __init__(self, recognizer, publish: Callable[[Reading], None], *, batch_size: int = 8,
                 max_wait_s: float = 0.05, min_confidence: float = 0.0,
                 on_error: Callable[[Any, Exception], None] | None = None, clock=time.monotonic,
                 tracks: PlateTracks | None = None, track_of: Callable[[Any], Hashable | None] | None = None,
                 publish_track: Callable[[TrackReading, Any], None] | None = None):
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        if tracks is not None and (track_of is None or publish_track is None):
            raise InputError("tracks needs track_of (tag -> track id or None) and publish_track")
        self.recognizer, self.publish = recognizer, publish
        self.tracks, self.track_of, self.publish_track = tracks, track_of, publish_track
        self.batch_size, self.max_wait_s, self.min_confidence = batch_size, max_wait_s, min_confidence
        self.on_error = on_error or (lambda tag, exc: None)
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[tuple[Any, np.ndarray]] = []
        self._oldest = 0.0
        self.stats = {"crops": 0, "batches": 0, "published": 0, "below_confidence": 0, "rejected": 0}

    def submit(self, crop: np.ndarray, tag: Any = None) -> None:
        """Queue one crop; runs a batch when it is full."""
        with self._lock:
            if not self._pending:
                self._oldest = self._clock()
            self._pending.append((tag, crop))
            self.stats["crops"] += 1
            ready = len(self._pending) >= self.batch_size
        if ready:
            self.flush()

    def poll(self) -> None:
        """Call from a timer: runs the waiting crops once the oldest has waited ``max_wait_s``."""
        with self._lock:
            due = bool(self._pending) and self._clock() - self._oldest >= self.max_wait_s
        if due:
            self.flush()

    def flush(self) -> None:
        """Run every waiting crop now."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        tags = [t for t, _ in batch]
        try:
            results, probs = self._read([c for _, c in batch])
        except CropError:
            results, probs = self._one_by_one(batch)  # find the bad crop(s); keep the good ones
        except LprEdgeError as exc:
            for tag in tags:
                self.on_error(tag, exc)
            return
        self.stats["batches"] += 1
        for i, (tag, result) in enumerate(zip(tags, results)):
            if result is None:
                continue
            if result.confidence >= self.min_confidence:  # an empty reading (0) only with min_confidence 0
                self.stats["published"] += 1
                self.publish(Reading(tag, result))
            else:
                self.stats["below_confidence"] += 1
            track = self.track_of(tag) if self.tracks is not None else None
            if track is not None:
                self.publish_track(self.tracks.add(track, result, None if probs is None else probs[i]), tag)

    def _read(self, crops):
        if self.tracks is None:
            return self.recognizer.recognize_batch(crops), None
        return self.recognizer.read_views(crops)

    def _one_by_one(self, batch):
        results, probs = [], []
        for tag, crop in batch:
            try:
                result, prob = self._read([crop])
                results.append(result[0])
                probs.append(None if prob is None else prob[0])
            except InputError as exc:
                self.stats["rejected"] += 1
                self.on_error(tag, exc)
                results.append(None)
                probs.append(None)
        return results, (probs if self.tracks is not None else None)
