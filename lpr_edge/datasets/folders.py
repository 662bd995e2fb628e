"""Labelled plate datasets: a folder with ``labels.csv`` (``file,text`` columns) or image files
whose name (before the first ``_``, ``-`` or ``.``) is the label.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from ..errors import DatasetError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
IMAGE_SUFFIX_LIST = ", ".join(sorted(IMAGE_SUFFIXES))


@dataclass(frozen=True)
class Sample:
    """One labelled crop on disk. ``text`` is empty for unlabelled images."""

    path: Path
    text: str
    group: str = ""  # stratification key (e.g. US state)
    note: str = ""
    line: int = 0  # line in labels.csv (0: label from the file name)
    box: tuple[int, int, int, int] | None = None  # plate box (x, y, w, h) inside the image, when given
    columns: tuple[tuple[str, str], ...] = ()  # every column of its labels.csv row, as (name, value) pairs

    def column(self, name: str) -> str | None:
        """The value of the labels.csv column ``name`` in this sample's row (None: no such column)."""
        return dict(self.columns).get(name)

    def where(self) -> str:
        """Where this sample is defined, for error messages."""
        return f"labels.csv line {self.line} ({self.path})" if self.line else str(self.path)


@dataclass
class Dataset:
    """An ordered list of samples plus what was skipped while reading it."""

    root: Path
    samples: list[Sample]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)


def load_dataset(root: str | Path, *, labelled: bool = True, drop_suspect: bool = True) -> Dataset:
    """Read a dataset folder.

    With ``labels.csv`` present its ``file,text`` columns are used (extra columns ignored; a
    ``state`` column becomes the stratification group; rows whose ``note`` says ``suspect`` are
    dropped unless ``drop_suspect`` is false). Otherwise every image in the folder is a sample, its
    label taken from the file name (or left empty with ``labelled=False``).
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"dataset folder {root} does not exist; pass a folder of plate crops")
    if root.is_file():
        raise DatasetError(f"{root} is a file; pass the folder that holds labels.csv or the images")
    csv_path = root / "labels.csv"
    if csv_path.exists():
        return _from_csv(root, csv_path, drop_suspect)
    skipped: list[str] = []
    samples = []
    for p in image_files(root):
        text = re.split(r"[_\-.]", p.name, maxsplit=1)[0] if labelled else ""
        samples.append(Sample(p, text.upper() if text.isascii() else text))
    if not samples:
        raise DatasetError(f"{root} holds no labels.csv and no images ({IMAGE_SUFFIX_LIST})")
    if labelled and len(samples) >= 4 and len({s.text for s in samples}) * 2 < len(samples):
        common = max({s.text for s in samples}, key=lambda text: sum(s.text == text for s in samples))
        raise DatasetError(f"{root} has no labels.csv and its file names are not plate labels ({len(samples)} images, "
                           f"most named {common!r}...); add a labels.csv (file,text), name each image by its plate "
                           "(ABC123_1.png), or read unlabelled crops with lpr-edge recognize")
    return Dataset(root, samples, skipped)


def image_files(folder: Path) -> list[Path]:
    """The entries of a folder with an image suffix, sorted by name (not recursive)."""
    return [p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]


def _from_csv(root: Path, csv_path: Path, drop_suspect: bool) -> Dataset:
    try:
        raw = csv_path.read_bytes()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{csv_path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise DatasetError(f"cannot read {csv_path}: {exc.strerror}") from None
    rows = list(csv.DictReader(text.splitlines()))
    header = rows[0].keys() if rows else (text.splitlines()[0].split(",") if text.strip() else [])
    if "file" not in header or "text" not in header:
        raise DatasetError(f"{csv_path} needs a header with 'file' and 'text' columns, found {list(header)}")
    samples, skipped = [], []
    seen: dict[tuple, tuple[int, str]] = {}  # (file, box) -> first line and its label
    for i, row in enumerate(rows, start=2):
        file, label = (row.get("file") or "").strip(), (row.get("text") or "").strip()
        note = (row.get("note") or "").strip()
        if not file:
            skipped.append(f"line {i}: empty file name")
            continue
        if not label:
            skipped.append(f"line {i}: {file}: empty text")
            continue
        if drop_suspect and "suspect" in note.lower():
            skipped.append(f"line {i}: {file}: label marked suspect")
            continue
        path = root / file
        if not path.is_file():
            skipped.append(f"line {i}: {file}: image missing")
            continue
        group = (row.get("state") or row.get("region") or "").strip()
        box = _box(row, csv_path, i)
        first = seen.setdefault((file, box), (i, label))
        if first[0] != i:  # the same crop listed again
            if first[1] != label:
                raise DatasetError(f"{csv_path} line {i} labels {file} {label!r}, line {first[0]} {first[1]!r}; "
                                   "keep the right one (or correct it with --relabel)")
            skipped.append(f"line {i}: {file}: listed again (line {first[0]})")
            continue
        columns = tuple((k, (v or "").strip()) for k, v in row.items() if k is not None)
        samples.append(Sample(path, label, group, note, i, box, columns))
    if not samples:
        raise DatasetError(f"{csv_path} lists no usable samples ({len(skipped)} rows skipped)")
    return Dataset(root, samples, skipped)


BOX_COLUMNS = ("box_x", "box_y", "box_w", "box_h")


def _box(row: dict, csv_path: Path, line: int) -> tuple[int, int, int, int] | None:
    """The plate box of a row, when the file has box_x/y/w/h columns."""
    if not all((row.get(c) or "").strip() for c in BOX_COLUMNS):
        return None
    try:
        x, y, w, h = (int(round(float(row[c]))) for c in BOX_COLUMNS)
    except ValueError:
        raise DatasetError(f"{csv_path} line {line}: box_x/y/w/h must be numbers") from None
    if w < 1 or h < 1:
        raise DatasetError(f"{csv_path} line {line}: box {w}x{h} is empty")
    return x, y, w, h


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as BGR uint8, raising DatasetError on an unreadable file."""
    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    if data is None:
        raise DatasetError(f"image {path} does not exist")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise DatasetError(f"image {path} cannot be decoded (empty, truncated or not an image)")
    return img


def load_images(samples: Sequence[Sample], *,
                skip_unreadable: bool = True) -> tuple[list[np.ndarray], list[Sample], list[str]]:
    """Decode the samples' images; unreadable ones are skipped, each with a line in the third list saying
    why (or raise)."""
    images, kept, skipped = [], [], []
    for s in samples:
        try:
            images.append(read_image(s.path))
            kept.append(s)
        except DatasetError as exc:
            if not skip_unreadable:
                raise
            skipped.append(str(exc))
    return images, kept, skipped
