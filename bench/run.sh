#!/bin/sh
# Side-by-side latency of tinyq and ONNX Runtime (1 thread) on the same files in
# one run; prints ratios (tinyq / ORT). Usage: bench/run.sh [path/to/tinyq]
# Machines are shared and noisy: only the ratios measured together mean anything.
# Both the median and the minimum latency are printed; the verdict uses the
# minimum (each runtime's uncontended speed: a median moves with whatever else
# shares the cores while it runs). ROUNDS (default 3) alternates the two
# runtimes that many times per case and keeps each one's best.
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

ROUNDS="${ROUNDS:-3}"
printf '%-18s %5s %12s %12s %9s %12s %12s %9s %8s\n' model batch tinyq_med_us ort_med_us med_ratio \
    tinyq_min_us ort_min_us min_ratio target
echo "$CASES" | while read -r name model batch target; do
    it=$ITERS
    [ "$batch" -gt 1 ] && it=$((ITERS / 4))
    runs=""
    for r in $(seq "$ROUNDS"); do
        tq=$("$TOOL" bench "$model" --batch "$batch" --iters "$it" --json)
        ort=$(node bench/ort_bench.js "$model" --batch "$batch" --iters "$it" --threads 1)
        runs="$runs$tq|$ort;"
    done
    /usr/bin/python3 - "$name" "$batch" "$target" "$runs" <<'PY'
import json, sys
name, batch, target, runs = sys.argv[1:]
pairs = [p.split("|") for p in runs.strip(";").split(";")]
tq = [json.loads(a) for a, _ in pairs]
ort = [json.loads(b) for _, b in pairs]
tmed = sorted(x["median_us"] for x in tq)[len(tq) // 2]
omed = sorted(x["median_us"] for x in ort)[len(ort) // 2]
tmin, omin = min(x["min_us"] for x in tq), min(x["min_us"] for x in ort)
r = tmin / omin
verdict = "" if target == "-" else ("ok" if r <= float(target) else "MISS")
tgt = ("<=" + target) if target != "-" else ""
print(f"{name:<18} {batch:>5} {tmed:>12.1f} {omed:>12.1f} {tmed / omed:>8.2f}x "
      f"{tmin:>12.1f} {omin:>12.1f} {r:>8.2f}x {tgt:>8} {verdict}")
PY
done
