"""lpr-edge eval --data DIR: accuracy of a model on a labelled folder, how far its confidence can be
trusted (risk-coverage), what it misreads (--errors, --errors-image), and how it reads plates cut
with a detector's margins (--margin, for folders whose labels.csv gives the plate box)."""
from __future__ import annotations

import csv
import json
import sys

from ..bundled import trained_on
from ..datasets import correction_counts, load_split
from ..evaluation.risk import SCORES
from .common import add_model_args, open_recognizer


def add_parser(sub, name):
    p = sub.add_parser(name, help="accuracy on a labelled dataset", description=__doc__)
    add_model_args(p)
    p.add_argument("--data", required=True, help="folder with labels.csv (file,text) or label-named images")
    p.add_argument("--split", choices=("all", "val", "train"), default="all",
                   help="use one side of the fixed seeded 80/20 split (the bundled model's validation set is 'val')")
    p.add_argument("--relabel", default=None, metavar="FIXES.csv",
                   help="label corrections (file,text,note; empty text leaves the crop out) applied after the split, "
                        "e.g. benchmarks/label_audits/openalpr-br-detector.csv")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--errors", default=None, metavar="OUT.csv", help="write misread plates to this CSV")
    p.add_argument("--errors-image", default=None, metavar="OUT.png",
                   help="write a contact sheet of the misread crops (label, reading, confidence)")
    p.add_argument("--margin", default=None, metavar="M,M,...",
                   help="cut each plate from its box (box_x/y/w/h columns) with these margins per side, e.g. "
                        "0,0.1,0.2, and report accuracy per margin")
    p.add_argument("--track-column", default=None, metavar="COL",
                   help="group the crops into tracks (several views of one plate) by this labels.csv column and "
                        "report per track: the fused reading, the views' majority vote, the most confident view")
    p.add_argument("--strict", action="store_true", help="fail on unreadable images instead of skipping them")
    p.set_defaults(run=run)


def run(args) -> int:
    samples, skipped_rows = load_split(args.data, args.split, relabel=args.relabel)
    if args.track_column:
        return _run_tracks(args, samples, skipped_rows)
    with open_recognizer(args) as rec:
        reports = _read(rec, samples, args)
        info = {"model": str(rec.model_path), "backend": rec.backend_name, "precision": rec.precision,
                "reframe": rec.reframe, "cross_check": rec.cross_check}
    main_report = reports[0][1]
    for why in [*skipped_rows, *main_report.skipped]:
        print(f"lpr-edge: skipped {why}", file=sys.stderr)
    _warn_if_trained_on(info["model"], args)
    relabelled, left_out = correction_counts(samples, skipped_rows)
    _write_errors(args, reports)
    summary = {**main_report.to_dict(), "skipped_rows": len(skipped_rows), **info, "data": args.data,
               "split": args.split, "relabel": args.relabel,
               "relabelled": relabelled,
               "risk_coverage": [main_report.risk(s).to_dict() for s in SCORES]}
    if args.margin:
        summary["margins"] = [{"margin": m, **r.to_dict()} for m, r in reports]
    if args.json:
        print(json.dumps(summary))
        return 0
    for margin, report in reports:
        acc = report.accuracy
        where = f"margin {margin:+.0%}: " if margin is not None else ""
        print(f"{where}{acc.plates} plates  perfect match {acc.perfect_match:.2%}  per-character "
              f"{acc.per_char_match:.2%}  ({info['backend']}, {info['precision']}"
              f"{', loose crops read again' if rec.reframe else ''}"
              f"{', confidence cross-checked' if rec.cross_check else ''}"
              f"; {len(report.skipped)} unreadable, "
              f"{len(skipped_rows)} rows skipped)")
    if args.relabel:
        print(f"  labels as corrected by {args.relabel}: {relabelled} relabelled, "
              f"{left_out} crop(s) left out")
    for score in SCORES:
        print("  " + main_report.risk(score).describe())
    if args.margin and len(reports) > 1:
        values = [r.accuracy.perfect_match for _, r in reports]
        print(f"  margins: worst {min(values):.2%}, best {max(values):.2%} (spread {max(values) - min(values):.2%})")
    return 0


def _warn_if_trained_on(model: str, args) -> None:
    bundled = trained_on(model, args.data) if args.split != "val" else None
    if bundled:
        print(f"lpr-edge: the bundled {bundled} model trained on the training side of {args.data}: --split "
              f"{args.split} flatters it; --split val reads only plates it never saw", file=sys.stderr)


def _run_tracks(args, samples, skipped_rows) -> int:
    from ..errors import InputError
    from ..evaluation.tracks import evaluate_tracks

    if args.margin or args.errors or args.errors_image:
        raise InputError("--track-column reports per track: leave out --margin, --errors and --errors-image")
    with open_recognizer(args) as rec:
        report = evaluate_tracks(rec, samples, args.track_column, skip_unreadable=not args.strict,
                                 progress=sys.stderr.isatty())
        model = str(rec.model_path)
    for why in [*skipped_rows, *report.skipped]:
        print(f"lpr-edge: skipped {why}", file=sys.stderr)
    _warn_if_trained_on(model, args)
    summary = {**report.to_dict(), "model": model, "data": args.data, "split": args.split,
               "track_column": args.track_column}
    if args.json:
        print(json.dumps(summary))
        return 0
    acc = report.accuracy()
    print(f"{summary['tracks']} tracks, {summary['views']} views: fused {acc['fused']:.2%}  vote {acc['vote']:.2%}  "
          f"most confident view {acc['most_confident_view']:.2%}  single view {acc['single_view']:.2%}  "
          f"any view right {acc['any_view']:.2%}")
    print("  " + report.risk_fused().describe())
    print("  single views' " + report.risk_single().describe())
    return 0


def _read(rec, samples, args) -> list:
    """[(margin or None, EvalReport)], one per --margin (the crops as given without it)."""
    from ..datasets import load_images
    from ..evaluation.harness import evaluate, evaluate_images
    from ..evaluation.margins import boxed, crop_at_margin, parse_margins

    progress = sys.stderr.isatty()
    if not args.margin:
        return [(None, evaluate(rec, samples, progress=progress, skip_unreadable=not args.strict))]
    margins = parse_margins(args.margin)
    images, kept, skipped = load_images(boxed(samples), skip_unreadable=not args.strict)
    return [(m, evaluate_images(rec, [crop_at_margin(img, s.box, m) for img, s in zip(images, kept)], kept,
                                skipped=skipped, progress=progress)) for m in margins]


def _write_errors(args, reports) -> None:
    """--errors and --errors-image, written as one set."""
    import io

    from ..atomic import write_all

    if not (args.errors or args.errors_image):
        return
    margin, report = reports[0]
    wrong = [i for i, (r, lbl) in enumerate(zip(report.results, report.labels)) if r.text != lbl]
    files = {}
    if args.errors:
        text = io.StringIO()
        w = csv.writer(text)
        w.writerow(["file", "label", "prediction", "confidence"])
        for i in wrong:
            w.writerow([report.samples[i].path.as_posix(), report.labels[i], report.results[i].text,
                        f"{report.results[i].confidence:.4f}"])
        files[args.errors] = text.getvalue().encode("utf-8")
    if args.errors_image:
        files[args.errors_image] = _sheet_png(report, wrong, margin)
    write_all(files)


def _sheet_png(report, wrong, margin) -> bytes:
    from ..datasets import read_image
    from ..evaluation.contact_sheet import contact_sheet, encode_png
    from ..evaluation.margins import crop_at_margin

    crops = []
    for i in wrong:
        image = read_image(report.samples[i].path)
        crops.append(crop_at_margin(image, report.samples[i].box, margin) if margin is not None else image)
    sheet = contact_sheet(crops, [report.labels[i] for i in wrong], [report.results[i].text for i in wrong],
                          [report.results[i].confidence for i in wrong])
    return encode_png(sheet)
