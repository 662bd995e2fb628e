"""The bundled US model against its two INT8 Q/DQ forms, each read with its own spec (framing
included; the cross-check off, so only readings count), plate by plate on the US validation split,
all 740 US plates, ``openalpr-br`` and 3,000 synthetic plates (seed 2026): perfect match, gained,
lost and the exact McNemar p-value. The table in ``calibration/README.md``.

Reproduce: python benchmarks/int8_table.py   (writes benchmarks/results/int8_us.json)
A candidate recipe: python benchmarks/int8_table.py --int8 C.qdq.onnx --int8-cpu C.cpu.qdq.onnx --json OUT.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lpr_edge.atomic import write_text
from lpr_edge.environment import cpu_model
from lpr_edge.evaluation.harness import eval_sample_set, read_model

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
MODELS = {"fp32": REPO / "lpr_edge/models/lprnet_us.onnx", "int8": REPO / "calibration/lprnet_us.qdq.onnx",
          "int8_cpu": REPO / "calibration/lprnet_us.cpu.qdq.onnx"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--json", default=str(REPO / "benchmarks/results/int8_us.json"))
    ap.add_argument("--int8", default=str(MODELS["int8"]), help="TensorRT Q/DQ model (default: the shipped one)")
    ap.add_argument("--int8-cpu", default=str(MODELS["int8_cpu"]), help="CPU Q/DQ model (default: the shipped one)")
    args = ap.parse_args()
    models = {"fp32": MODELS["fp32"], "int8": Path(args.int8).resolve(), "int8_cpu": Path(args.int8_cpu).resolve()}
    data = Path(args.data)
    sets = [("US val", str(data / "openalpr-us-states"), "val"), ("US all", str(data / "openalpr-us-states"), "all"),
            ("Brazil", str(data / "openalpr-br"), "all"), ("synthetic", "synthetic", "all")]
    out = {"cpu": cpu_model(), "models": {k: _shown(v) for k, v in models.items()}, "sets": {}}
    for name, folder, side in sets:
        sample_set = eval_sample_set(folder, side)
        readings = {k: read_model(str(path), sample_set, cross_check=False) for k, path in models.items()}
        row = {"plates": len(sample_set.images), "fp32": readings["fp32"].accuracy.perfect_match}
        for k in ("int8", "int8_cpu"):
            row[k] = {"perfect_match": readings[k].accuracy.perfect_match,
                      **readings[k].against(readings["fp32"]).to_dict()}
        out["sets"][name] = row
        print(f"{name:10s} FP32 {row['fp32']:.2%}  " + "  ".join(
            f"{k} {row[k]['perfect_match']:.2%} (+{row[k]['gained']}/-{row[k]['lost']}, p {row[k]['p_value']:.2f})"
            for k in ("int8", "int8_cpu")), flush=True)
    write_text(args.json, json.dumps(out, indent=1) + "\n")
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:  # a candidate outside the repository
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
