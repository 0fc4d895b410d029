#!/bin/sh
# Side-by-side latency of tinyq and ONNX Runtime (1 thread) on the same files in
# one run; prints ratios (tinyq / ORT). Usage: bench/run.sh [path/to/tinyq]
# Machines are shared and noisy: only the ratios measured together mean anything.
set -eu
cd "$(dirname "$0")/.."
TOOL="${1:-build/tools/tinyq/tinyq}"
ITERS="${ITERS:-300}"
SEED="${SEED_MODELS:-../shared/seed-models}"

# name model batch target
CASES="cnn fixtures/cnn.onnx 1 1.25
cnn fixtures/cnn.onnx 64 1.25
mlp fixtures/mlp.onnx 1 0.5
mlp fixtures/mlp.onnx 64 -"
if [ -d "$SEED" ]; then
CASES="$CASES
vmaf_tiny_v4 $SEED/vmaf_tiny_v4.onnx 1 -
nr_metric_v1 $SEED/nr_metric_v1.onnx 1 -
learned_filter_v1 $SEED/learned_filter_v1.onnx 1 -"
fi

printf '%-18s %5s %14s %14s %10s %8s\n' model batch tinyq_med_us ort_med_us tinyq/ORT target
echo "$CASES" | while read -r name model batch target; do
    it=$ITERS
    [ "$batch" -gt 1 ] && it=$((ITERS / 4))
    tq=$("$TOOL" bench "$model" --batch "$batch" --iters "$it" --json)
    ort=$(node bench/ort_bench.js "$model" --batch "$batch" --iters "$it" --threads 1)
    /usr/bin/python3 - "$name" "$batch" "$target" "$tq" "$ort" <<'PY'
import json, sys
name, batch, target, tq, ort = sys.argv[1:]
t, o = json.loads(tq)["median_us"], json.loads(ort)["median_us"]
r = t / o
verdict = "" if target == "-" else ("ok" if r <= float(target) else "MISS")
print(f"{name:<18} {batch:>5} {t:>14.1f} {o:>14.1f} {r:>9.2f}x {('<=' + target) if target != '-' else '':>8} {verdict}")
PY
done
