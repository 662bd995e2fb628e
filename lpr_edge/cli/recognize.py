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


def image_paths(names: list[str]) -> list[str]:
    """The image files named, a folder standing for its images sorted by name (not recursive)."""
    from ..datasets import IMAGE_SUFFIX_LIST, image_files
    from ..errors import DatasetError

    paths: list[str] = []
    for name in names:
        p = Path(name)
        if p.is_dir():
            found = [str(f) for f in image_files(p) if f.is_file()]
            if not found:
                raise DatasetError(f"folder {name} holds no images ({IMAGE_SUFFIX_LIST})")
            paths += found
        elif not p.is_file():
            raise DatasetError(f"image {name} does not exist")
        else:
            paths.append(name)
    return paths


def decode(paths: list[str], *, strict: bool) -> tuple[list[str], list]:
    """The paths decoded and their crops; one that cannot be decoded or read as a crop (a whole photo over
    the size limit, say) raises if ``strict``, else is skipped with a line naming the file."""
    from ..datasets import read_image
    from ..errors import DatasetError
    from ..runtime.preprocess import crop_problem

    kept, crops = [], []
    for path in paths:
        try:
            crop = read_image(path)
            problem = crop_problem(crop)
            if problem is not None:
                raise DatasetError(f"image {path} {problem}")
        except DatasetError as exc:
            if strict:
                raise
            print(f"lpr-edge: skipped {exc}", file=sys.stderr)
            continue
        crops.append(crop)
        kept.append(path)
    return kept, crops


def run(args) -> int:
    paths = image_paths(args.images)
    chunks = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]
    # The first chunk is decoded before the model loads: a lone image that cannot be decoded is an error
    # then. In a longer run such an image is skipped with a line, so one bad frame does not lose the others.
    decoded = decode(chunks[0], strict=len(paths) == 1)
    read = 0
    with open_recognizer(args) as rec:
        for i, chunk in enumerate(chunks):
            kept, crops = decoded if i == 0 else decode(chunk, strict=False)
            read += len(kept)
            for path, r in zip(kept, rec.recognize_batch(crops) if crops else []):
                if args.json:
                    print(json.dumps({"image": path, **r.to_dict()}, ensure_ascii=False, allow_nan=False))
                else:
                    print(f"{path}\t{r.text}\t{r.confidence:.3f}")
            sys.stdout.flush()
    if read < len(paths):
        print(f"lpr-edge: {len(paths) - read} of {len(paths)} image(s) skipped (above)", file=sys.stderr)
        return 1
    return 0
