"""lpr-edge recognize IMAGE|FOLDER...: read plates from image files."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import add_model_args, open_recognizer

# Crops decoded at a time: a folder of any size is read in bounded memory, and results print as they come.
CHUNK = 256


def add_parser(sub, name):
    p = sub.add_parser(name, help="read plates from cropped images", description=__doc__)
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="plate crops (PNG, JPEG, ...) or folders of them (their images, sorted by name)")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object per image")
    p.set_defaults(run=run)


def image_paths(args: list[str]) -> list[str]:
    """The image files named, a folder standing for its images sorted by name (not recursive)."""
    from ..errors import DatasetError
    from ..evaluation.datasets import IMAGE_SUFFIXES

    paths: list[str] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            found = sorted(str(f) for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DatasetError(f"folder {arg} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            paths += found
        elif not p.is_file():
            raise DatasetError(f"image {arg} does not exist")
        else:
            paths.append(arg)
    return paths


def run(args) -> int:
    from ..errors import DatasetError
    from ..evaluation.datasets import read_image

    paths = image_paths(args.images)
    # A lone file that cannot be decoded is an error before the model loads; in a longer run it is
    # skipped with a line on stderr so one bad frame does not lose the others (exit status 1).
    if len(paths) == 1:
        read_image(paths[0])
    skipped = 0
    with open_recognizer(args) as rec:
        for start in range(0, len(paths), CHUNK):
            chunk, crops = [], []
            for path in paths[start:start + CHUNK]:
                try:
                    crops.append(read_image(path))
                    chunk.append(path)
                except DatasetError as exc:
                    skipped += 1
                    print(f"lpr-edge: skipped {exc}", file=sys.stderr)
            for path, r in zip(chunk, rec.recognize_batch(crops) if crops else []):
                if args.json:
                    print(json.dumps({"image": path, **r.to_dict()}, ensure_ascii=False))
                else:
                    print(f"{path}\t{r.text}\t{r.confidence:.3f}")
            sys.stdout.flush()
    if skipped:
        print(f"lpr-edge: {skipped} of {len(paths)} image(s) could not be decoded", file=sys.stderr)
    return 1 if skipped else 0
