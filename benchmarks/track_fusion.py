"""Fused readings of plates seen in several views against the majority vote, the most confident view and
the single view, for both bundled models on the development sets of ``benchmarks/track_sets.py``; with
risk-coverage (99 % precision) of the fused confidence beside the single views'.

Reproduce: python benchmarks/track_sets.py --out /tmp/tracks --seed 2
           python benchmarks/track_fusion.py --sets /tmp/tracks
(writes benchmarks/results/track_fusion.json and .md; seed 1 chose how views are fused, seed 2 is quoted)
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from lpr_edge import Recognizer
from lpr_edge.atomic import write_all
from lpr_edge.datasets import load_dataset
from lpr_edge.environment import cpu_model
from lpr_edge.evaluation.tracks import evaluate_tracks

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", required=True, type=Path, help="the --out folder of track_sets.py")
    ap.add_argument("--out", default=str(RESULTS / "track_fusion"))
    args = ap.parse_args()
    rows = []
    for model in ("us", "br"):
        with Recognizer(model) as rec:
            for name in ("context", "detector", "synthetic"):
                report = evaluate_tracks(rec, load_dataset(args.sets / name).samples, "track")
                rows.append({"model": model, "set": name, **report.to_dict()})
                print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("risk")}), flush=True)
    md = ["| model | set | tracks | views | fused | vote | most confident view | single view | any view "
          "| fused: coverage at 99 % | single views: coverage at 99 % |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['model']} | {r['set']} | {r['tracks']} | {r['views']} | {r['fused']:.1%} | {r['vote']:.1%} "
                  f"| {r['most_confident_view']:.1%} | {r['single_view']:.1%} | {r['any_view']:.1%} "
                  f"| {r['risk_coverage_fused']['coverage_at_target']:.1%} "
                  f"| {r['risk_coverage_single_views']['coverage_at_target']:.1%} |")
    report = {"machine": f"{cpu_model()}, {platform.machine()}", "sets": str(args.sets), "rows": rows}
    write_all({args.out + ".json": (json.dumps(report, indent=1) + "\n").encode(),
               args.out + ".md": ("\n".join(md) + "\n").encode()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
