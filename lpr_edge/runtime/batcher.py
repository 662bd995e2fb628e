"""Collect crops arriving one by one (camera callbacks) into batches for a Recognizer.

Framework-neutral: the ROS 2 example node (``examples/ros2_lpr_node.py``) is a thin layer over it.
A batch is run when ``batch_size`` crops are waiting or the oldest has waited ``max_wait_s``;
readings under ``min_confidence`` are dropped, and every reading keeps the caller's tag (frame id,
timestamp, track id) so it can be published against the right image.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import CropError, InputError, LprEdgeError
from .decode import PlateResult


@dataclass(frozen=True)
class Reading:
    """One accepted plate reading and the tag its crop came with."""

    tag: Any
    result: PlateResult


class PlateBatcher:
    """Thread-safe crop queue that runs ``recognizer`` in batches and hands readings to ``publish``."""

    def __init__(self, recognizer, publish: Callable[[Reading], None], *, batch_size: int = 8,
                 max_wait_s: float = 0.05, min_confidence: float = 0.0,
                 on_error: Callable[[Any, Exception], None] | None = None, clock=time.monotonic):
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        self.recognizer, self.publish = recognizer, publish
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
            results = self.recognizer.recognize_batch([c for _, c in batch])
        except CropError:
            results = self._one_by_one(batch)  # find the bad crop(s); keep the good ones
        except LprEdgeError as exc:
            for tag in tags:
                self.on_error(tag, exc)
            return
        self.stats["batches"] += 1
        for tag, result in zip(tags, results):
            if result is None:
                continue
            if result.text and result.confidence >= self.min_confidence:
                self.stats["published"] += 1
                self.publish(Reading(tag, result))
            else:
                self.stats["below_confidence"] += 1

    def _one_by_one(self, batch):
        results = []
        for tag, crop in batch:
            try:
                results.append(self.recognizer.recognize(crop))
            except InputError as exc:
                self.stats["rejected"] += 1
                self.on_error(tag, exc)
                results.append(None)
        return results
