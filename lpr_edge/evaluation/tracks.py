"""Accuracy per track (several crops of one plate, grouped by a labels.csv column): the fused reading
(``Recognizer.recognize_track``) against the majority vote of the views' readings, the most confident
view, the average single view and whether any view was right; risk-coverage of the fused confidence
beside the single crops'."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..datasets import Sample, load_images
from ..errors import DatasetError
from ..runtime.decode import PlateResult
from ..runtime.fusion import fuse
from .risk import RiskCoverage, risk_coverage


def track_ids(samples: Sequence[Sample], column: str) -> list[str]:
    """Each sample's value in the ``column`` of its labels.csv row."""
    out = []
    for s in samples:
        if not s.line:
            raise DatasetError(f"{s.path}: --track-column needs a labels.csv, not labels in file names")
        value = s.column(column)
        if value is None:
            raise DatasetError(f"labels.csv has no column {column!r} for --track-column (columns: "
                               f"{', '.join(name for name, _ in s.columns)})")
        if not value:
            raise DatasetError(f"{s.where()} has no {column!r} value: every row needs a track id")
        out.append(value)
    return out


@dataclass
class TrackReport:
    """Per track: the label, the views' readings and the fused one."""

    labels: list[str]
    views: list[list[PlateResult]]
    fused: list[PlateResult]
    skipped: list[str] = field(default_factory=list)

    def _share(self, right: Sequence[bool]) -> float:
        return float(np.mean(right)) if len(right) else 0.0

    def accuracy(self) -> dict[str, float]:
        vote = [_vote(v) for v in self.views]
        best = [max(v, key=lambda r: r.confidence).text for v in self.views]
        return {"fused": self._share([f.text == lbl for f, lbl in zip(self.fused, self.labels)]),
                "vote": self._share([t == lbl for t, lbl in zip(vote, self.labels)]),
                "most_confident_view": self._share([t == lbl for t, lbl in zip(best, self.labels)]),
                "single_view": self._share([r.text == lbl for v, lbl in zip(self.views, self.labels) for r in v]),
                "any_view": self._share([any(r.text == lbl for r in v) for v, lbl in zip(self.views, self.labels)])}

    def risk_fused(self) -> RiskCoverage:
        return risk_coverage([f.confidence for f in self.fused],
                             [f.text == lbl for f, lbl in zip(self.fused, self.labels)], "fused")

    def risk_single(self) -> RiskCoverage:
        return risk_coverage([r.confidence for v in self.views for r in v],
                             [r.text == lbl for v, lbl in zip(self.views, self.labels) for r in v], "plate")

    def to_dict(self) -> dict:
        return {"tracks": len(self.labels), "views": sum(len(v) for v in self.views), **self.accuracy(),
                "risk_coverage_fused": self.risk_fused().to_dict(),
                "risk_coverage_single_views": self.risk_single().to_dict(), "skipped": len(self.skipped)}


def _vote(readings: Sequence[PlateResult]) -> str:
    """The text most views read (ties: the larger summed confidence); '' if every view read nothing."""
    votes = Counter(r.text for r in readings if r.text)
    if not votes:
        return ""
    return max(votes, key=lambda t: (votes[t], sum(r.confidence for r in readings if r.text == t)))


def evaluate_tracks(rec, samples: Sequence[Sample], column: str, *, skip_unreadable: bool = True,
                    progress: bool = False) -> TrackReport:
    """Read every track's crops in one call each and fuse them (``Recognizer.read_views``); labels are
    mapped into the model's alphabet first, as ``evaluate`` does."""
    tracks: dict[str, list[Sample]] = {}
    for sample, track in zip(samples, track_ids(samples, column)):
        tracks.setdefault(track, []).append(sample)
    report = TrackReport([], [], [])
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tracks), desc="tracks", unit="track", leave=False)
    for track, members in tracks.items():
        texts = {s.text for s in members}
        if len(texts) > 1:
            raise DatasetError(f"track {track!r} ({column}) has crops labelled {sorted(texts)}: one plate per track")
        images, _, skipped = load_images(members, skip_unreadable=skip_unreadable)
        report.skipped += skipped
        if images:
            readings, probs = rec.read_views(images)
            report.labels.append(rec.spec.normalise_label(members[0].text))  # e.g. O -> 0 for the US model
            report.views.append(readings)
            report.fused.append(fuse(readings, probs, rec.spec.charset, rec.spec.blank))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return report
