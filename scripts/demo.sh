#!/bin/sh
# `make demo`: a short story on the shipped registry (models/tiny): check it,
# quantise its fp32 baseline to int8 (in a scratch copy: committed files are
# never touched), prove the int8 model is inside its accuracy budget, score
# samples through the registry, and compare size and speed.
set -eu
TOOL="${1:-build/tools/tinyq/tinyq}"
case "$TOOL" in /*) ;; *) TOOL="$(pwd)/$TOOL" ;; esac
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
W=$(mktemp -d /tmp/tinyq-demo-XXXXXX)
trap 'rm -rf "$W"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }
say() { printf '%s\n' "$@"; }

step "1. The shipped registry: is every file what the registry says?" \
     "tinyq registry validate models/tiny/registry.json"
"$TOOL" registry validate models/tiny/registry.json
step "   Which file does the loader open, and who applies the StandardScaler?" \
     "tinyq registry list models/tiny/registry.json"
"$TOOL" registry list models/tiny/registry.json

cp -r models/tiny "$W/tiny"
R="$W/tiny/registry.json"
step "2. Quantise the fp32 baseline to int8 (static, calibrated), in a scratch copy" \
     "tinyq quantize --registry $R --id mlp_regressor_fp32 --mode static --calibration $W/tiny/calib/mlp_regressor_calib.npz"
"$TOOL" quantize --registry "$R" --id mlp_regressor_fp32 --mode static \
    --calibration "$W/tiny/calib/mlp_regressor_calib.npz"
say "" "What changed in the registry (only the quantisation fields of that entry):"
diff -u models/tiny/registry.json "$R" | grep '^[-+] ' || true

step "3. The accuracy gate: fp32 vs int8 on the deterministic synthetic set" \
     "tinyq gate --registry $R --all"
"$TOOL" gate --registry "$R" --all

step "4. Score held-out samples through the registry (the caller names an id, not a file)" \
     "tinyq registry score mlp_regressor_fp32 --registry REG -i samples.npz -o scores.npz"
$PY -c "
import numpy as np
d = np.load('fixtures/mlp_data.npz')
np.savez('$W/samples.npz', features=d['features'][:5], target=d['target'][:5])"
"$TOOL" registry score mlp_regressor_fp32 --registry models/tiny/registry.json \
    -i "$W/samples.npz" -o "$W/fp32.npz"
"$TOOL" registry score mlp_regressor_fp32 --registry "$R" -i "$W/samples.npz" -o "$W/int8.npz"
$PY - "$W" <<'PY'
import sys
import numpy as np
w = sys.argv[1]
t = np.load(f"{w}/samples.npz")["target"]
a, b = np.load(f"{w}/fp32.npz")["score"], np.load(f"{w}/int8.npz")["score"]
print(f"\n{'target':>8} {'fp32':>8} {'int8':>8} {'int8-fp32':>10}")
for row in zip(t, a, b):
    print(f"{row[0]:8.3f} {row[1]:8.3f} {row[2]:8.3f} {row[2] - row[1]:+10.4f}")
PY
step "   The codec-aware model: the same video features, told which encoder made them" \
     "tinyq registry score codec_mlp -i codec_samples.npz [--encoder libx265 --preset slow --crf C]"
$PY -c "
import numpy as np
d = np.load('fixtures/codec_mlp_data.npz')
np.savez('$W/codec_samples.npz', features=d['features'][:4])"
"$TOOL" registry score codec_mlp --registry models/tiny/registry.json -i "$W/codec_samples.npz" \
    -o "$W/unknown.npz" >/dev/null
for crf in 22 40; do
    "$TOOL" registry score codec_mlp --registry models/tiny/registry.json \
        -i "$W/codec_samples.npz" --encoder libx265 --preset slow --crf $crf -o "$W/crf$crf.npz"
done
$PY - "$W" <<'PY'
import sys
import numpy as np
w = sys.argv[1]
cols = [np.load(f"{w}/{n}.npz")["score"] for n in ("unknown", "crf22", "crf40")]
print(f"\n{'no codec context':>17} {'x265 slow crf22':>16} {'x265 slow crf40':>16}")
for row in zip(*cols):
    print(f"{row[0]:17.3f} {row[1]:16.3f} {row[2]:16.3f}")
PY

step "5. Size and speed, fp32 vs int8 (one thread, batch 1 and 64)" \
     "tinyq bench FP32 INT8"
cd "$W/tiny"
say "fp32 $(wc -c <mlp_regressor_fp32.onnx) bytes -> int8 $(wc -c <mlp_regressor_fp32.int8.onnx) bytes"
for batch in 1 64; do
    "$TOOL" bench mlp_regressor_fp32.onnx mlp_regressor_fp32.int8.onnx --iters 3000 --batch $batch
done
say "(ratio = int8 time / fp32 time: below 1.00x the int8 model is faster)"
say "" "Done. The committed registry is unchanged; the scratch copy is removed."
