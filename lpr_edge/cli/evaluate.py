"""lpr-edge eval --data DIR: accuracy of a model on a labelled folder."""
from __future__ import annotations

import csv
import json
import sys

from .common import add_model_args, load_split, open_recognizer


def add_parser(sub, name):
    p = sub.add_parser(name, help="accuracy on a labelled dataset", description=__doc__)
    add_model_args(p)
    p.add_argument("--data", required=True, help="folder with labels.csv (file,text) or label-named images")
    p.add_argument("--split", choices=("all", "val", "train"), default="all",
                   help="use one side of the fixed seeded 80/20 split (the bundled model's validation set is 'val')")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--errors", default=None, metavar="OUT.csv", help="write misread plates to this CSV")
    p.add_argument("--strict", action="store_true", help="fail on unreadable images instead of skipping them")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..atomic import atomic_open
    from ..evaluation.harness import evaluate

    samples, skipped_rows = load_split(args.data, args.split)
    with open_recognizer(args) as rec:
        report = evaluate(rec, samples, progress=sys.stderr.isatty(), skip_unreadable=not args.strict)
        backend, precision, model = rec.backend_name, rec.precision, str(rec.model_path)
    acc = report.accuracy
    if args.errors:
        with atomic_open(args.errors, "w", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "label", "prediction", "confidence"])
            for i, label, pred in acc.errors:
                w.writerow([report.samples[i].path.as_posix(), label, pred, f"{report.results[i].confidence:.4f}"])
    summary = {**report.to_dict(), "skipped_rows": len(skipped_rows), "model": model, "backend": backend,
               "precision": precision, "data": args.data, "split": args.split}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{acc.plates} plates  perfect match {acc.perfect_match:.2%}  per-character {acc.per_char_match:.2%}"
              f"  ({backend}, {precision}; {len(report.skipped)} unreadable, {len(skipped_rows)} rows skipped)")
    return 0
