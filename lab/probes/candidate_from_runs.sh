#!/usr/bin/env bash
# A US model-card row from training runs (lpr_edge/models/README.md, "Recipes compared"): the uniform
# weight average of the runs' final checkpoints exported to ONNX, its framing fitted as every US
# candidate's is (lpr-edge framing --synth-layout us), then the row's numbers (candidate_eval.sh:
# validation, openalpr-br, the margin curve on openalpr-br-context), validation as audited, and the
# margin curve on held-out synthetic US plates. Everything lands under OUT_DIR.
#   bash benchmarks/candidate_from_runs.sh OUT_DIR RUN_DIR [RUN_DIR ...]
#   e.g. bash benchmarks/candidate_from_runs.sh runs/us/sp1 runs/us/sp1_s3 runs/us/sp1_s4
# A "+" between run folders starts another member of a prediction ensemble (lpr-edge export onnx
# --ensemble-with): each group is weight-averaged into one network, each plate read by the most
# confident network, e.g.
#   bash benchmarks/candidate_from_runs.sh runs/us/sel2 runs/us/sp1_s3 runs/us/sp1_s4 + runs/us/full_s0
# COMBINE=mean picks the per-slice mean instead of the default per-plate selection (export --combine).
set -euo pipefail
usage="usage: candidate_from_runs.sh OUT_DIR RUN_DIR [RUN_DIR ...] [+ RUN_DIR ...] (training run folders with last.pt)"
out=${1:?$usage}
shift
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
here=$(dirname "$0")
data=${LPR_DATA:-$here/../../shared/data}
groups=("")  # one comma-separated list of checkpoints per ensemble member
for run in "$@"; do
  if [ "$run" = "+" ]; then groups+=(""); continue; fi
  [ -f "$run/last.pt" ] || { echo "$run/last.pt: no such checkpoint; $usage" >&2; exit 2; }
  groups[-1]+="$run/last.pt,"
done
for g in "${groups[@]}"; do
  [ -n "$g" ] || { echo "an ensemble member without runs; $usage" >&2; exit 2; }
done
IFS=, read -ra checkpoints <<< "${groups[0]%,}"
ensemble=()  # the other groups, and how the members combine
for g in "${groups[@]:1}"; do ensemble+=(--ensemble-with "${g%,}"); done
[ ${#ensemble[@]} -eq 0 ] || ensemble+=(--combine "${COMBINE:-select}")
mkdir -p "$out/eval"
lpr-edge export onnx "${checkpoints[@]}" "${ensemble[@]}" -o "$out/model.onnx"
lpr-edge framing --model "$out/model.onnx" --data "$data/openalpr-us-states" --synth-layout us -o "$out/framed.onnx"
bash "$here/candidate_eval.sh" "$out/framed.onnx" "$out/eval"
lpr-edge eval --model "$out/framed.onnx" --data "$data/openalpr-us-states" --split val \
    --relabel "$here/label_audits/openalpr-us-states.csv" --json > "$out/eval/val_audited.json"
python -c "import json, sys; print(f\"val as audited: {json.load(open(sys.argv[1]))['perfect_match']:.2%}\")" \
    "$out/eval/val_audited.json"
python "$here/synth_margins.py" --model "$out/framed.onnx" --json "$out/eval/synth_margins.json"
