"""Every reading of the bundled models on the shared sets, to show a change leaves them as they were.

Reads each labelled crop of ``openalpr-us-states``, ``openalpr-br`` and ``openalpr-br-context`` with both
bundled models in four settings (defaults, cross-checked, first readings only, the Brazilian plate format)
and writes text, confidence and character confidences per crop, one JSON file per model, setting and set.
With ``--compare`` it says how many readings differ from an earlier run's files (exit 1 if any).

Reproduce (before and after a change, e.g. with the old commit in a git worktree on PYTHONPATH):
    python benchmarks/readings_check.py --out /tmp/before
    python benchmarks/readings_check.py --out /tmp/after --compare /tmp/before [--rel-tol 1e-12]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lpr_edge import Recognizer
from lpr_edge.atomic import write_text

try:
    from lpr_edge.datasets import load_dataset, load_images
except ImportError:  # an lpr-edge before the data layer had its own package (0.1.0 up to the recipes)
    from lpr_edge.evaluation.datasets import load_dataset, load_images

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = ("openalpr-us-states", "openalpr-br", "openalpr-br-context")
SETTINGS = {"default": {}, "xcheck": {"cross_check": True}, "noreframe": {"reframe": False},
            "fmt": {"plate_format": "br"}}


def snapshot(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    crops = {name: load_images(load_dataset(DATA / name).samples) for name in SETS}
    for model in ("us", "br"):
        for setting, kwargs in SETTINGS.items():
            with Recognizer(model, **kwargs) as rec:
                for name, (images, samples, _) in crops.items():
                    rows = [[str(s.path.name), r.text, r.confidence, list(r.char_confidences)]
                            for s, r in zip(samples, rec.recognize_batch(images))]
                    write_text(out / f"{model}_{setting}_{name}.json", json.dumps(rows))
                    print(f"{model} {setting} {name}: {len(rows)} readings", flush=True)


def compare(out: Path, before: Path, rel_tol: float = 0.0) -> int:
    """Readings that differ from ``before`` (text, character confidences, or a plate confidence further than
    ``rel_tol`` relative); prints the largest relative change of a plate confidence as well."""
    differ = total = 0
    worst = 0.0
    for path in sorted(before.glob("*.json")):
        old, new = json.loads(path.read_text()), json.loads((out / path.name).read_text())
        total += len(old)
        differ += abs(len(old) - len(new))
        for a, b in zip(old, new):
            change = abs(a[2] - b[2]) / max(abs(a[2]), 1e-300)
            worst = max(worst, change)
            differ += (a[0], a[1], a[3]) != (b[0], b[1], b[3]) or change > rel_tol
    print(f"{total} readings compared, {differ} differ (plate confidences within {rel_tol:g} relative; "
          f"largest relative change {worst:.2g})")
    return 1 if differ else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--compare", type=Path, default=None, help="an earlier --out folder")
    p.add_argument("--rel-tol", type=float, default=0.0,
                   help="plate confidences may differ this much, relative (a change of arithmetic order)")
    args = p.parse_args()
    snapshot(args.out)
    return compare(args.out, args.compare, args.rel_tol) if args.compare else 0


if __name__ == "__main__":
    sys.exit(main())
