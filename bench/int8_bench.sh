#!/bin/sh
# int8 latency side by side, one run, 1 thread, batch 1: tinyq int8, tinyq
# fp32, ONNX Runtime fp32 and ONNX Runtime int8 on the same files, and the
# ratios the quantisation issue asks for (acceptance 4 / 4b):
#   tq8/tq32   tinyq int8 vs tinyq's own fp32     (static CNN target <= 0.7)
#   tq8/ort8   tinyq int8 vs ORT on the int8 file (target <= 1.0)
#   tq8/ort32  tinyq int8 vs ORT fp32             (dynamic seeds: target < 1.0)
# Usage: bench/int8_bench.sh [path/to/tinyq]
#   ITERS (default 200), SEED_MODELS (default ../shared/seed-models),
#   CNN (default fixtures/cnn.onnx; its static per-channel int8 model is made
#   with `tinyq quantize` into a temporary directory), CALIB (default
#   fixtures/cnn_calib.npz).
# Rows ending in @avx2 run tinyq with TQ_CPU_MASK=1 (AVX2 + FMA without
# AVX512-VNNI: the product CPUs) on both the int8 and the fp32 file; their
# ORT columns are ORT's own dispatch (it may use VNNI). The *_rr models are
# quantised with --reduce-range (7-bit weights: the exact u8 x s8 vpmaddubsw
# kernel on AVX2).
# Medians in microseconds; the last three columns repeat the ratios on the
# minimum latencies (steadier than medians when other jobs share the cores).
# The machine is shared: only ratios measured in the same run mean anything.
set -eu
cd "$(dirname "$0")/.."
TOOL="${1:-build/tools/tinyq/tinyq}"
ITERS="${ITERS:-200}"
SEED="${SEED_MODELS:-../shared/seed-models}"
CNN="${CNN:-fixtures/cnn.onnx}"
CALIB="${CALIB:-fixtures/cnn_calib.npz}"
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "# bench/int8_bench.sh  $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')  ($(nproc) cores), 1 thread, batch 1, $ITERS iterations"

# name fp32-model int8-model
CASES=""
if [ -f "$CNN" ] && [ -f "$CALIB" ]; then
    "$TOOL" quantize "$CNN" --mode static --calibration "$CALIB" --per-channel \
        -o "$TMP/cnn.static-pc.int8.onnx" >/dev/null
    "$TOOL" quantize "$CNN" --mode static --calibration "$CALIB" --per-channel \
        --activation-type uint8 -o "$TMP/cnn.static-pc-u8.int8.onnx" >/dev/null
    "$TOOL" quantize "$CNN" --mode static --calibration "$CALIB" --per-channel \
        --reduce-range -o "$TMP/cnn.static-pc-rr.int8.onnx" >/dev/null
    "$TOOL" quantize "$CNN" --mode static --calibration "$CALIB" --per-channel \
        --activation-type uint8 --reduce-range -o "$TMP/cnn.static-pc-u8-rr.int8.onnx" >/dev/null
    CASES="cnn_static_pc_s8 $CNN $TMP/cnn.static-pc.int8.onnx
cnn_static_pc_u8 $CNN $TMP/cnn.static-pc-u8.int8.onnx
cnn_static_pc_s8@avx2 $CNN $TMP/cnn.static-pc.int8.onnx
cnn_static_pc_u8@avx2 $CNN $TMP/cnn.static-pc-u8.int8.onnx
cnn_static_pc_s8_rr@avx2 $CNN $TMP/cnn.static-pc-rr.int8.onnx
cnn_static_pc_u8_rr@avx2 $CNN $TMP/cnn.static-pc-u8-rr.int8.onnx"
else
    echo "# (no $CNN / $CALIB: static CNN rows skipped)"
fi
for m in nr_metric_v1 learned_filter_v1 vmaf_tiny_v4; do
    if [ -f "$SEED/$m.onnx" ] && [ -f "$SEED/$m.int8.onnx" ]; then
        CASES="$CASES
$m $SEED/$m.onnx $SEED/$m.int8.onnx"
    fi
done

med_tq() {
    case "$name" in
    *@avx2) TQ_CPU_MASK=1 "$TOOL" bench "$1" --batch 1 --iters "$2" --json ;;
    *) "$TOOL" bench "$1" --batch 1 --iters "$2" --json ;;
    esac
}
med_ort() { node bench/ort_bench.js "$1" --batch 1 --iters "$2" --threads 1; }

printf '%-24s %10s %10s %10s %10s %9s %9s %9s | %9s %9s %9s\n' model tq_int8 tq_fp32 \
    ort_fp32 ort_int8 tq8/tq32 tq8/ort8 tq8/ort32 min:tq32 min:ort8 min:ort32
echo "$CASES" | while read -r name fp32 int8; do
    [ -n "$name" ] || continue
    it=$ITERS
    case "$name" in learned_filter*) it=$(( ITERS / 10 > 5 ? ITERS / 10 : 5 ));; esac
    a=$(med_tq "$int8" "$it")
    b=$(med_tq "$fp32" "$it")
    c=$(med_ort "$fp32" "$it")
    d=$(med_ort "$int8" "$it")
    "$PY" - "$name" "$a" "$b" "$c" "$d" <<'PY'
import json, sys
name = sys.argv[1]
runs = [json.loads(s) for s in sys.argv[2:]]
a, b, c, d = (r["median_us"] for r in runs)
ma, mb, mc, md = (r["min_us"] for r in runs)
print(f"{name:<24} {a:>10.1f} {b:>10.1f} {c:>10.1f} {d:>10.1f} {a/b:>8.2f}x {a/d:>8.2f}x {a/c:>8.2f}x"
      f" | {ma/mb:>8.2f}x {ma/md:>8.2f}x {ma/mc:>8.2f}x")
PY
done
