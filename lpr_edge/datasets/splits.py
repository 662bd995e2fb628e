"""The fixed, seeded split of a labelled folder into training and validation sides (by plate text),
and a side read with its label corrections applied."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from .folders import Sample, load_dataset
from .relabel import apply_corrections, left_out_row, load_corrections

SPLIT_SEED = 20261125
VAL_FRACTION = 0.2  # the share of plates (by label) on the validation side: what --split val reads


def split(samples: Sequence[Sample], val_fraction: float = VAL_FRACTION,
          seed: int = SPLIT_SEED) -> tuple[list[Sample], list[Sample]]:
    """A seeded split stratified by ``group``: about ``val_fraction`` of every group goes to val.

    Identical label strings always land on the same side so the validation set never sees a
    plate the training set has (several plates in the US set repeat).
    """
    rng = np.random.default_rng(seed)
    by_group: dict[str, list[Sample]] = {}
    for s in samples:
        by_group.setdefault(s.group, []).append(s)
    val_texts: set[str] = set()
    for g in sorted(by_group):
        texts = sorted({s.text for s in by_group[g]})
        rng.shuffle(texts)
        n_val = int(round(len(texts) * val_fraction))
        val_texts.update(texts[:n_val])
    # A text in val keeps all its copies in val, whichever group they came from.
    train = [s for s in samples if s.text not in val_texts]
    val = [s for s in samples if s.text in val_texts]
    return train, val


def write_split(samples: Sequence[Sample], out_csv: str | Path) -> None:
    """Write a labels.csv (relative to the dataset root) listing ``samples``."""
    from ..atomic import atomic_open

    out_csv = Path(out_csv)
    with atomic_open(out_csv, "w", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text", "state"])
        for s in samples:
            w.writerow([s.path.as_posix(), s.text, s.group])


def load_split(data: str | Path, which: str = "all",
               relabel: str | Path | None = None) -> tuple[list[Sample], list[str]]:
    """The samples of a dataset folder (``all``) or one side (``train``/``val``) of its fixed seeded
    split, and the rows skipped while reading it. ``relabel``: a corrections CSV applied after the split
    (:mod:`lpr_edge.datasets.relabel`); crops it leaves out are listed with the skipped rows."""
    ds = load_dataset(data)
    chosen = ds.samples
    if which != "all":
        train, val = split(ds.samples)
        chosen = val if which == "val" else train
    if relabel is None:
        return chosen, ds.skipped
    corrected, _, dropped = apply_corrections(chosen, load_corrections(relabel), ds.root, known=ds.samples)
    return corrected, ds.skipped + [left_out_row(s, relabel) for s in dropped]
