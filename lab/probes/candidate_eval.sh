#!/usr/bin/env bash
# The numbers of one row of the US model card's variant table (lpr_edge/models/README.md), for a
# candidate model: validation split, openalpr-br (another region, never trained on) and the margin
# curve on openalpr-br-context, each as JSON under OUT_DIR, plus a one-screen summary.
#   bash benchmarks/candidate_eval.sh MODEL.onnx OUT_DIR
set -euo pipefail
model=${1:?usage: candidate_eval.sh MODEL.onnx OUT_DIR}
out=${2:?usage: candidate_eval.sh MODEL.onnx OUT_DIR}
data=${LPR_DATA:-$(dirname "$0")/../../shared/data}
mkdir -p "$out"
lpr-edge eval --model "$model" --data "$data/openalpr-us-states" --split val --json > "$out/val.json"
lpr-edge eval --model "$model" --data "$data/openalpr-br" --json > "$out/br.json"
lpr-edge eval --model "$model" --data "$data/openalpr-br-context" --margin 0,0.05,0.1,0.15,0.2,0.25 --json \
    > "$out/margins.json"
python - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for name in ("val", "br"):
    d = json.loads((out / f"{name}.json").read_text())
    rc = next(r for r in d["risk_coverage"] if r["score"] == "plate")
    print(f"{name}: {d['perfect_match']:.2%} perfect / {d['per_char_match']:.2%} per char; "
          f"99 % precision at {rc['coverage_at_target']:.1%} coverage")
m = json.loads((out / "margins.json").read_text())
acc = [r["perfect_match"] for r in m["margins"]]
print("margins:", " / ".join(f"{a:.1%}" for a in acc), f"(worst vs best {min(acc) - max(acc):+.1%})")
PY
