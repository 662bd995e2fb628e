"""How far the bundled models' confidence can be trusted, with and without the cross-check
(``lpr_edge.runtime.cross_check``): on each model's own validation split (as labelled and as
audited), on ``openalpr-br`` (another collection) and on ``openalpr-br-context`` cut at detector
margins 0-25 %, the share of plates accepted at 99 % precision (coverage) and the area under the
risk-coverage curve (AURC, lower is better). Readings are the same either way; only the
confidence differs.

Reproduce: python benchmarks/confidence_eval.py --json benchmarks/results/confidence_cross_check.json
    --markdown benchmarks/results/confidence_cross_check.md
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lpr_edge import Recognizer
from lpr_edge.atomic import write_text
from lpr_edge.environment import collect
from lpr_edge.evaluation.datasets import load_images, load_split
from lpr_edge.evaluation.harness import evaluate_images
from lpr_edge.evaluation.margins import boxed, crop_at_margin

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
AUDITS = Path(__file__).resolve().parent / "label_audits"
HOME = {"us": "openalpr-us-states", "br": "openalpr-br-detector"}
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)


def sets(model: str, data: Path) -> list[tuple[str, list, list]]:
    """(name, images, samples) of every set the model is measured on."""
    out = []
    for name, relabel in (("validation", None), ("validation, audited", AUDITS / f"{HOME[model]}.csv")):
        samples, _ = load_split(data / HOME[model], "val", relabel=str(relabel) if relabel else None)
        images, kept, _ = load_images(samples)
        out.append((name, images, kept))
    samples, _ = load_split(data / "openalpr-br", "all")
    images, kept, _ = load_images(samples)
    out.append(("openalpr-br", images, kept))
    samples, _ = load_split(data / "openalpr-br-context", "all")
    images, kept, _ = load_images(boxed(samples))
    for m in MARGINS:
        out.append((f"context {m:.0%}", [crop_at_margin(i, s.box, m) for i, s in zip(images, kept)], kept))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    rows = []
    for model in ("us", "br"):
        for name, images, samples in sets(model, Path(args.data)):
            row = {"model": model, "set": name, "plates": len(samples)}
            for checked in (False, True):
                with Recognizer(model, cross_check=checked) as rec:
                    report = evaluate_images(rec, images, samples)
                risk = report.risk("product")
                key = "checked" if checked else "first"
                row["perfect_match"] = report.accuracy.perfect_match
                row[key] = {"coverage_at_99": risk.coverage_at_target, "threshold": risk.threshold, "aurc": risk.aurc}
            rows.append(row)
            print(f"{model} {name:20s} {row['perfect_match']:.2%}  coverage at 99 %: "
                  f"{row['first']['coverage_at_99']:.1%} -> {row['checked']['coverage_at_99']:.1%}  AURC "
                  f"{row['first']['aurc']:.4f} -> {row['checked']['aurc']:.4f}", flush=True)
    means = {k: float(np.mean([r[k]["coverage_at_99"] for r in rows])) for k in ("first", "checked")}
    env = collect()
    report = {"environment": env, "rows": rows, "mean_coverage_at_99": means}
    if args.json:
        write_text(args.json, json.dumps(report, indent=1) + "\n")
    if args.markdown:
        lines = [f"# Confidence with and without the cross-check (CPU: {env.get('cpu')})", "",
                 "Reproduce: `python benchmarks/confidence_eval.py --json ... --markdown ...`", "",
                 "| model | set | plates | perfect match | coverage at 99 % precision: first / cross-checked "
                 "| AURC: first / cross-checked |", "|---|---|---:|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['model']} | {r['set']} | {r['plates']} | {r['perfect_match']:.2%} "
                         f"| {r['first']['coverage_at_99']:.1%} / **{r['checked']['coverage_at_99']:.1%}** "
                         f"| {r['first']['aurc']:.4f} / {r['checked']['aurc']:.4f} |")
        lines += ["", f"Mean coverage at 99 % precision over the {len(rows)} rows: {means['first']:.1%} first, "
                      f"{means['checked']:.1%} cross-checked."]
        write_text(args.markdown, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
