#!/usr/bin/env bash
# Triton serving (lpr-edge serve) against the local Recognizer, measured in one run on one machine:
# the bundled US model, built-in synthetic plates, batch 1 and 32, 1/4/16 concurrent clients, both
# wire forms (uint8 resized pixels, float32 model input). Client and server share this machine.
#   bash benchmarks/serve_bench.sh [ITERS]
set -euo pipefail
iters=${1:-20}
out=benchmarks/results
mkdir -p "$out"

serve() {  # serve WIRE PORT_BASE: start lpr-edge serve in the background, wait until the model is ready
    lpr-edge serve --address 127.0.0.1 --wire "$1" --http-port "$2" --grpc-port $(($2 + 1)) \
        --metrics-port $(($2 + 2)) --log-file "/tmp/lpr-serve-$1.log" 2>"/tmp/lpr-serve-$1.err" &
    pids+=($!)
    for _ in $(seq 120); do
        curl -sf "http://127.0.0.1:$2/v2/models/lpr/ready" >/dev/null && return 0
        sleep 0.5
    done
    echo "server ($1) did not come up: $(cat /tmp/lpr-serve-$1.err)" >&2
    exit 1
}
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' EXIT
serve uint8 18000
serve float32 18100
lpr-edge bench us grpc://127.0.0.1:18001/lpr http://127.0.0.1:18000/lpr grpc://127.0.0.1:18101/lpr \
    --batch 1,32 --clients 1,4,16 --iters "$iters" \
    --json "$out/serve_bench.json" --markdown "$out/serve_bench.md"
