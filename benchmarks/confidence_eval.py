"""How far the bundled models' confidence can be trusted, three ways: the character product of the
first reading (DeepStream's plate confidence), that product cross-checked on a padded view
(``lpr_edge.runtime.cross_check``; the default until 2026-12-07) and the CTC posterior of the first
reading (the default since: ``lpr_edge.runtime.decode``). On each model's own validation split (as
labelled and as audited), on ``openalpr-br`` (another collection), on ``openalpr-br-context`` cut at
detector margins 0-25 % and on held-out synthetic plates of the model's layout (seed 20261129, 400
plates, margins 0/10/20 %): the share of plates accepted at 99 % precision (coverage) and the area
under the risk-coverage curve (AURC, lower is better). Readings are the same every way; only the
confidence differs.

Reproduce: python benchmarks/confidence_eval.py --json benchmarks/results/confidence_posterior.json
    --markdown benchmarks/results/confidence_posterior.md
(``benchmarks/results/confidence_cross_check.*`` are the two-way records of the fifteenth and
twenty-first sessions, made by this script before the posterior column.)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lpr_edge import Recognizer
from lpr_edge.atomic import write_text
from lpr_edge.datasets import load_images, load_split
from lpr_edge.environment import collect
from lpr_edge.evaluation.margins import boxed, crop_at_margin
from lpr_edge.evaluation.risk import risk_coverage
from lpr_edge.runtime.decode import char_product
from lpr_edge.synth.world import plates_in_context

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
AUDITS = Path(__file__).resolve().parent / "label_audits"
HOME = {"us": "openalpr-us-states", "br": "openalpr-br-detector"}
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
SYNTH_SEED = 20261129  # benchmarks/synth_margins.py's: no training run and no framing fit draws it
WAYS = ("product", "checked", "posterior")


class _Label:
    def __init__(self, text: str):
        self.text = text


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
    plates = plates_in_context(model, 400, SYNTH_SEED)
    for m in (0.0, 0.1, 0.2):
        out.append((f"synthetic {m:.0%}", [crop_at_margin(img, (x0, y0, x1 - x0, y1 - y0), m)
                                            for img, (x0, y0, x1, y1), _ in plates], [_Label(t) for *_, t in plates]))
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
            with Recognizer(model, cross_check=False) as rec:
                plain = [r for i in range(0, len(images), 32) for r in rec.recognize_batch(images[i:i + 32])]
            with Recognizer(model, cross_check=True) as rec:
                checked = [r for i in range(0, len(images), 32) for r in rec.recognize_batch(images[i:i + 32])]
            labels = [rec.spec.normalise_label(s.text) for s in samples]
            right = [r.text == t for r, t in zip(plain, labels)]
            assert [r.text for r in plain] == [r.text for r in checked]
            row["perfect_match"] = float(np.mean(right))
            for key, scores in (("product", [char_product(r) for r in plain]),
                                ("checked", [r.confidence for r in checked]),
                                ("posterior", [r.confidence for r in plain])):
                risk = risk_coverage(scores, right)
                row[key] = {"coverage_at_99": risk.coverage_at_target, "threshold": risk.threshold, "aurc": risk.aurc}
            rows.append(row)
            print(f"{model} {name:20s} {row['perfect_match']:.2%}  coverage at 99 %: "
                  + " / ".join(f"{row[k]['coverage_at_99']:.1%}" for k in WAYS) + "  AURC "
                  + " / ".join(f"{row[k]['aurc']:.4f}" for k in WAYS), flush=True)
    means = {k: float(np.mean([r[k]["coverage_at_99"] for r in rows])) for k in WAYS}
    aurc = {k: float(np.mean([r[k]["aurc"] for r in rows])) for k in WAYS}
    env = collect()
    report = {"environment": env, "rows": rows, "mean_coverage_at_99": means, "mean_aurc": aurc}
    if args.json:
        write_text(args.json, json.dumps(report, indent=1) + "\n")
    if args.markdown:
        lines = [f"# Three plate confidences (CPU: {env.get('cpu')})", "",
                 "Reproduce: `python benchmarks/confidence_eval.py --json ... --markdown ...`", "",
                 "Character product of the first reading / that product cross-checked on a padded view (the "
                 "default until 2026-12-07, twice the passes) / **the CTC posterior of the first reading (the "
                 "default since)**.", "",
                 "| model | set | plates | perfect match | coverage at 99 % precision | AURC |",
                 "|---|---|---:|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['model']} | {r['set']} | {r['plates']} | {r['perfect_match']:.2%} "
                         f"| {r['product']['coverage_at_99']:.1%} / {r['checked']['coverage_at_99']:.1%} / "
                         f"**{r['posterior']['coverage_at_99']:.1%}** "
                         f"| {r['product']['aurc']:.4f} / {r['checked']['aurc']:.4f} / "
                         f"**{r['posterior']['aurc']:.4f}** |")
        lines += ["", f"Means over the {len(rows)} rows, coverage at 99 % precision: "
                      + " / ".join(f"{means[k]:.1%}" for k in WAYS) + "; AURC: "
                      + " / ".join(f"{aurc[k]:.4f}" for k in WAYS) + "."]
        write_text(args.markdown, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
