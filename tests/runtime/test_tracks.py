"""PlateTracks: a fused reading per track as crops arrive, bounded state, settling, closing and expiry,
the same reading as recognize_track, and thread safety."""
from __future__ import annotations

import pytest

from lpr_edge import Recognizer
from lpr_edge.datasets import load_dataset, load_images
from lpr_edge.errors import InputError
from lpr_edge.evaluation.margins import crop_at_margin
from lpr_edge.tracks import PlateTracks

from ..conftest import SHARED_DATA, need, run_threads


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def plates():
    data = SHARED_DATA / "openalpr-br-context"
    need(data)
    images, kept, _ = load_images(load_dataset(data).samples[:3])
    return [([crop_at_margin(img, s.box, m) for m in (0.0, 0.05, 0.1, 0.15, 0.2)], s.text)
            for img, s in zip(images, kept)]


@pytest.fixture(scope="module")
def rec():
    with Recognizer("br") as r:
        yield r


def test_a_track_streams_to_what_recognize_track_reads(rec, plates):
    clock = Clock()
    tracks = PlateTracks(rec, settle_views=3, settle_confidence=0.5, clock=clock)
    crops, text = plates[0]
    readings = [tracks.update("car-1", crop) for crop in crops]
    assert [r.views for r in readings] == [1, 2, 3, 4, 5]
    assert [r.settled for r in readings][:2] == [False, False] and readings[-1].settled
    fused = rec.recognize_track(crops)
    assert readings[-1].result.text == fused.text == text
    assert readings[-1].result.confidence == pytest.approx(fused.confidence, rel=1e-6)  # float32 state
    assert tracks.get("car-1") == readings[-1] and tracks.get("other") is None
    assert tracks.close("car-1") == readings[-1] and len(tracks) == 0 and tracks.close("car-1") is None


def test_one_frame_of_several_tracks_is_one_call_and_idle_tracks_expire(rec, plates):
    clock = Clock()
    tracks = PlateTracks(rec, idle_s=2.0, clock=clock)
    calls = []
    original = rec.read_views
    rec.read_views = lambda crops: calls.append(len(crops)) or original(crops)
    try:
        for k in range(3):
            clock.now = float(k)
            frame = [(i, crops[k]) for i, (crops, _) in enumerate(plates) if i != 2 or k == 0]
            out = tracks.update_batch(frame)
            assert [r.track_id for r in out] == [i for i, _ in frame]
    finally:
        del rec.read_views
    assert calls == [3, 2, 2]
    clock.now = 2.5  # track 2 was last seen at 0
    expired = tracks.expire()
    assert [r.track_id for r in expired] == [2] and expired[0].views == 1 and len(tracks) == 2
    assert tracks.update_batch([]) == []


def test_state_is_bounded_to_the_surest_views(rec, plates):
    tracks = PlateTracks(rec, max_views=2)
    crops, _ = plates[1]
    for crop in crops:
        tracks.update("t", crop)
    state = tracks._tracks["t"]
    assert len(state.readings) == len(state.probs) == 2 and tracks.get("t").views == 2
    surest = sorted(r.confidence for r in rec.recognize_batch(crops))[-2:]
    assert sorted(r.confidence for r in state.readings) == pytest.approx(surest)
    with pytest.raises(InputError, match="at least 1"):
        PlateTracks(rec, max_views=0)


def test_threads_updating_tracks_at_once(rec, plates):
    tracks = PlateTracks(rec)

    def worker(k):
        crops, _ = plates[k % len(plates)]
        for crop in crops:
            tracks.update(k, crop)

    assert run_threads(worker, count=6) == []  # none hung
    assert len(tracks) == 6 and all(tracks.get(k).views == 5 for k in range(6))
    alone = [rec.recognize_track(crops) for crops, _ in plates]
    for k in range(6):
        assert tracks.get(k).result.text == alone[k % 3].text
        assert tracks.get(k).result.confidence == pytest.approx(alone[k % 3].confidence, rel=1e-6)


def test_iou_tracker_keeps_ids_of_overlapping_boxes_and_ends_lost_tracks():
    from lpr_edge.tracks import IouTracker

    tracker = IouTracker(min_iou=0.3, max_missed=1)
    assert tracker.update([(100, 100, 80, 40), (400, 300, 80, 40)]) == [0, 1]
    # both moved a little (listed the other way round), and a new plate far away
    assert tracker.update([(410, 305, 80, 40), (600, 50, 60, 30), (108, 102, 82, 41)]) == [1, 2, 0]
    assert tracker.ended == []
    assert tracker.update([(115, 104, 84, 42)]) == [0]       # 1 and 2 missed once: still alive
    assert tracker.update([(121, 106, 86, 43)]) == [0] and sorted(tracker.ended) == [1, 2]
    assert tracker.update([(412, 306, 80, 40)]) == [3]       # too late for 1: a new id
    # two boxes over one track: the better overlap keeps the id
    assert tracker.update([(300, 300, 10, 10), (122, 106, 86, 43), (140, 110, 86, 43)]) == [4, 0, 5]
    with pytest.raises(InputError, match="positive width"):
        tracker.update([(0, 0, 0, 10)])
    with pytest.raises(InputError, match="min_iou"):
        IouTracker(min_iou=0)
