"""Label corrections kept beside a dataset instead of editing it (``--relabel FIXES.csv``).

A corrections file is a CSV with the columns ``file,text,note``: ``file`` as the dataset's
``labels.csv`` names it, ``text`` the label the crop really shows (empty: leave the crop out, e.g.
an empty or unreadable crop) and ``note`` why. Corrections are applied after the fixed seeded
split, so a corrected label never moves a crop to the other side of it.
"""
from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Sequence

from ..errors import DatasetError
from .folders import Sample

RELABELLED = "relabelled from "   # the note of a sample whose label a correction changed
LEFT_OUT = "left out by --relabel"  # in the skipped row of a crop a correction left out


def left_out_row(sample: Sample, fixes_path: str | Path) -> str:
    """The skipped-row entry for a crop the corrections in ``fixes_path`` left out."""
    return f"{sample.where()}: {LEFT_OUT} {fixes_path}"


def correction_counts(samples: Sequence[Sample], skipped_rows: Sequence[str]) -> tuple[int, int]:
    """How many of ``samples`` were relabelled, and how many crops ``skipped_rows`` says were left out."""
    return (sum(s.note.startswith(RELABELLED) for s in samples),
            sum(LEFT_OUT in row for row in skipped_rows))


def load_corrections(path: str | Path) -> dict[str, str]:
    """``{file: corrected text}`` from a corrections CSV ('' = leave the crop out)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"--relabel {path}: no such file; pass a CSV with file,text,note columns") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"--relabel {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise DatasetError(f"--relabel {path}: cannot read it ({exc.strerror})") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or "file" not in rows[0] or "text" not in rows[0]:
        raise DatasetError(f"--relabel {path} needs a header with 'file' and 'text' columns and at least one row")
    fixes: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        file = (row.get("file") or "").strip()
        if not file:
            raise DatasetError(f"--relabel {path} line {line}: empty file name")
        if file in fixes:
            raise DatasetError(f"--relabel {path} line {line}: {file} is corrected twice; keep one row")
        fixes[file] = (row.get("text") or "").strip()
    return fixes


def apply_corrections(samples: Sequence[Sample], fixes: dict[str, str], root: str | Path,
                      known: Sequence[Sample] = ()) -> tuple[list[Sample], int, list[Sample]]:
    """``samples`` with their labels corrected; crops whose correction is empty are left out.

    ``known`` are all the dataset's samples (default ``samples``): a correction naming a file that
    is not among them is refused, as it is a typo or a file of another dataset. Returns the samples,
    how many labels changed and the crops left out.
    """
    root = Path(root)
    names = {_name(s, root) for s in (known or samples)}
    unknown = sorted(set(fixes) - names)
    if unknown:
        raise DatasetError(f"--relabel names {len(unknown)} file(s) that {root} does not list, first {unknown[0]!r}; "
                           "write the file as its labels.csv does, e.g. images/NAME.jpg")
    out: list[Sample] = []
    dropped: list[Sample] = []
    changed = 0
    for s in samples:
        fix = fixes.get(_name(s, root))
        if fix is None or fix == s.text:
            out.append(s)
        elif not fix:
            dropped.append(s)
        else:
            out.append(dataclasses.replace(s, text=fix, note=f"{RELABELLED}{s.text}"))
            changed += 1
    return out, changed, dropped


def _name(sample: Sample, root: Path) -> str:
    try:
        return sample.path.relative_to(root).as_posix()
    except ValueError:
        return sample.path.as_posix()
