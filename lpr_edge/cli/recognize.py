"""lpr-edge recognize IMAGE...: read plates from image files."""
from __future__ import annotations

import json

from .common import add_model_args, open_recognizer


def add_parser(sub, name):
    p = sub.add_parser(name, help="read plates from cropped images", description=__doc__)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="plate crops (PNG, JPEG, ...)")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object per image")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..evaluation.datasets import read_image

    crops = [read_image(path) for path in args.images]
    with open_recognizer(args) as rec:
        results = rec.recognize_batch(crops)
    for path, r in zip(args.images, results):
        if args.json:
            print(json.dumps({"image": path, **r.to_dict()}, ensure_ascii=False))
        else:
            print(f"{path}\t{r.text}\t{r.confidence:.3f}")
    return 0
